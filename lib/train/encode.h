#pragma once
// `sne encode`: the code z of every network of a zoo (or of one split), streamed to an embeddings file.
#include <functional>
#include <string>

#include "train/trainer.h"

namespace sne::train {

/// Which share of the networks to encode: shard `index` of `count` contiguous shares (count 1: all). A sharded
/// encode's parts merge into the unsharded file (zoo/embedding_merge.h).
struct EncodeShard {
  int index = 0, count = 1;
};

/// Returns the number of networks written. `progress(done, total)` after each batch.
int64_t encode_zoo(LoadedModel& m, std::shared_ptr<const zoo::ZooFile> zoo, const std::string& split,
                   const std::string& out_path, bool overwrite, const Context& ctx,
                   const std::function<void(int64_t, int64_t)>& progress = {}, EncodeShard shard = {});

}  // namespace sne::train
