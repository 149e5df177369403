#pragma once
// `sne encode`: the code z of every network of a zoo (or of one split), streamed to an embeddings file.
#include <functional>
#include <string>

#include "train/trainer.h"

namespace sne::train {

/// Returns the number of networks written. `progress(done, total)` after each batch.
int64_t encode_zoo(LoadedModel& m, std::shared_ptr<const zoo::ZooFile> zoo, const std::string& split,
                   const std::string& out_path, bool overwrite, const Context& ctx,
                   const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace sne::train
