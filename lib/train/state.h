#pragma once
// Everything a resumed run needs besides the weights and the optimizer: the counters of the epoch loop, this
// epoch's running sums, the best metric so far, the symmetry sampler's RNG and the fitted normalisers. It is
// what `state.json` of a checkpoint holds.
#include <cstdint>
#include <random>
#include <string>

#include "core/json.h"
#include "train/model.h"
#include "train/normalizer.h"

namespace sne::train {

struct TrainingState {
  int64_t epoch = 0;            ///< finished epochs
  int64_t batch_in_epoch = 0;   ///< batches of the current epoch already trained
  int64_t step = 0;             ///< optimizer steps in total
  int64_t stale_epochs = 0;     ///< epochs since the best one (early stopping)
  double epoch_loss_sum = 0, epoch_invariance_sum = 0;  ///< this epoch's sums over its batches
  int64_t epoch_batches = 0;
  int64_t data_shards = 1;      ///< the run's data shards (see train/shards.h); fixed when the run starts
  int64_t world_size = 1;       ///< processes of the run that wrote the state (informational)
  double best_metric = 0;       ///< meaningful when has_best
  bool has_best = false;
  Json best_record;             ///< the best epoch's metrics record
  std::mt19937_64 rng;          ///< draws the invariance term's symmetry transforms
  ValueNormalizer values;
  TargetScaler targets;
  ModelShape shape;

  /// state.json's content; `property` and `zoo` are recorded for eval and encode.
  Json to_json(const std::string& property, const std::string& zoo) const;
  /// CheckpointError naming `file` for a missing or nonsensical member (negative counters, an unreadable RNG).
  static TrainingState from_json(const Json& j, const std::string& file);

  /// At the end of an epoch: ConfigError when its training loss is NaN or infinite (the run diverged), naming
  /// train.lr and train.grad_clip (`lr`, `grad_clip`) and what checkpoints/last still holds.
  void require_finite_loss(double lr, double grad_clip) const;
};

}  // namespace sne::train
