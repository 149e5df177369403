#pragma once
// Streaming a zoo split through a model, shared by the trainer (validation every epoch) and by eval/encode's
// loading (trainer.h declares the public load_model and predict): the device and stream settings of a config,
// the checks a scored split must pass, and prediction on one process or sharded over several.
#include <memory>
#include <string>

#include "config/config.h"
#include "runtime/context.h"
#include "train/collective.h"
#include "train/model.h"
#include "train/normalizer.h"
#include "train/shards.h"
#include "train/trainer.h"
#include "zoo/zoo_stream.h"

namespace sne::train {

/// The device a context names (a data-parallel rank's own CUDA device).
at::Device device_of(const Context& ctx);
/// zoo.reader.memory_budget_mb as bytes.
int64_t budget_bytes(const config::Config& c);
/// The reader settings of a config for `split`; networks of unknown (NaN) property are skipped.
zoo::StreamOptions stream_options(const config::Config& c, const std::string& split, bool shuffle);

/// DataError naming the zoo and `key` when `split` holds fewer than 2 networks of known `property`.
void require_scorable(const zoo::ZooFile& z, const std::string& split, const std::string& key,
                      const std::string& property);
/// DataError listing the zoo's properties when it has no `property` (task.property).
void require_property(const zoo::ZooFile& z, const std::string& property);

/// The model's predictions for `split` (streamed, in stream order), with the invariance error over `samples`
/// transforms per network when samples > 0.
Predictions predict_split(Model& model, const config::Config& c, std::shared_ptr<const zoo::ZooFile> z,
                          const std::string& split, const ValueNormalizer& values, const TargetScaler& targets,
                          const Context& ctx, int64_t samples, uint64_t seed);
/// A sharded run's predictions for `split`: each process predicts the shards it owns and `collective` gathers
/// them, so every process gets the whole split in ascending network order.
Predictions predict_shards(Model& model, const config::Config& c, std::shared_ptr<const zoo::ZooFile> z,
                           const std::string& split, const ValueNormalizer& values, const TargetScaler& targets,
                           const Context& ctx, const ShardPlan& plan, Collective* collective);

}  // namespace sne::train
