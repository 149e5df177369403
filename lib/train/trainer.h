#pragma once
// One trainer for SNE and the baselines (config `model`): epochs over a streamed training split, AdamW with linear
// warm-up, gradient clipping, the logit-invariance term, validation every epoch, best-model selection, early
// stopping, and a run directory that can always be resumed:
//   RUN/config.yaml  RUN/metrics.jsonl  RUN/checkpoints/last/  RUN/checkpoints/best/
#include <atomic>
#include <functional>
#include <string>

#include "config/config.h"
#include "core/json.h"
#include "runtime/context.h"
#include "train/collective.h"
#include "train/model.h"
#include "train/normalizer.h"

namespace sne::train {

struct TrainProgress {
  int64_t epoch = 0, epochs = 0, batch = 0, batches = 0, step = 0;
  double loss = 0, invariance = 0, networks_per_s = 0, lr = 0;
};

struct TrainRequest {
  config::Config config;
  std::string run_dir;
  bool resume = false;                       ///< continue from RUN/checkpoints/last
  const std::atomic<bool>* stop = nullptr;   ///< set by a signal: save `last` and return
  int64_t stop_after_steps = -1;             ///< stop (after saving) once this many steps are done in total
  std::function<void(const TrainProgress&)> on_progress;
  std::function<void(const Json&)> on_epoch;  ///< each metrics.jsonl record
  std::function<void(const std::string&)> on_note;  ///< what the user should know, e.g. a resume that restarts
  /// The processes of a data-parallel run (null or size 1: this process alone). Every rank calls train() with
  /// the same request; rank 0 alone writes the run directory. See train/shards.h for how the data is cut.
  Collective* collective = nullptr;
  /// Gradient bucket size of the all-reduce: smaller buckets start during the backward pass sooner, larger
  /// ones pay each collective's latency fewer times. It does not change the result.
  int64_t bucket_bytes = int64_t{256} << 10;
};

struct TrainReport {
  int64_t epochs_done = 0, steps = 0;
  bool interrupted = false, early_stopped = false;
  Json best;  ///< the best epoch's record
  double train_seconds = 0;      ///< wall time of the training steps in this call (no validation, no resume)
  int64_t networks_trained = 0;  ///< networks passed through training steps in this call, on every rank together
  int world_size = 1;
  double reduce_seconds = 0;     ///< of train_seconds, the time in the gradient all-reduce
};

TrainReport train(const TrainRequest& request, const Context& ctx);

/// What a run was trained on, as a short text: the zoo's network count, architectures, splits and the predicted
/// property's values, hashed. A zoo regenerated bit for bit gets the same; another zoo at the same path does not.
std::string zoo_fingerprint(const zoo::ZooFile& zoo, const std::string& property);

/// Throws CheckpointError naming `run_dir` and `zoo_path` when the training state `state` (a checkpoint's
/// state.json) was written for another zoo than `zoo`. States from before the fingerprint are not checked.
void require_same_zoo(const Json& state, const zoo::ZooFile& zoo, const std::string& property,
                      const std::string& run_dir, const std::string& zoo_path);

/// A trained model with everything needed to apply it (from a checkpoint directory).
struct LoadedModel {
  config::Config config;
  Model model{nullptr};
  ModelShape shape;
  ValueNormalizer values;
  TargetScaler targets;
  Json state;
};
LoadedModel load_model(const std::string& checkpoint_dir, const Context& ctx);

struct Predictions {
  std::vector<int64_t> index;
  std::vector<double> truth, predicted;  ///< original units
  double invariance_error = 0;           ///< mean 1/2 (f(x) - f(g x))^2 on the model's scale (0 if not measured)
  int64_t unknown_skipped = 0;           ///< networks of the split whose property is unknown (NaN), not predicted
};

/// Predicts `split` of `zoo` (streamed). `invariance_samples` > 0 also measures the invariance error.
Predictions predict(LoadedModel& m, std::shared_ptr<const zoo::ZooFile> zoo, const std::string& split,
                    const Context& ctx, int64_t invariance_samples = 0, uint64_t seed = 0);

}  // namespace sne::train
