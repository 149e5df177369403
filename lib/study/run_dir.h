#pragma once
// The run directory: the layout every command that trains shares, and the one rule that decides whether a run is
// trained afresh, resumed or reused.
//   RUN/config.yaml  RUN/metrics.jsonl  RUN/checkpoints/{last,best}/  RUN/evaluations/NAME.json
// A run is *finished* when checkpoints/last says every epoch was trained (or early stopping ended it); it is
// *started* when checkpoints/last exists; otherwise it is *new*. Finished runs are reused, started ones resumed.
// An evaluation is reused when its file records the same best checkpoint (epoch and step), zoo, split and
// number of symmetry samples; otherwise it is computed again.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/json.h"

namespace sne::study {

/// One line of metrics.jsonl: an epoch's training loss and validation metrics.
struct EpochRecord {
  int64_t epoch = 0, step = 0;
  double train_loss = 0, train_invariance = 0, seconds = 0;
  double step_seconds = 0;        ///< of `seconds`, the training steps (NaN in older logs)
  double networks_trained = 0;    ///< networks through training steps (NaN in older logs)
  double lr = 0;  ///< NaN in logs written before the learning rate was recorded
  double validation_mse = 0, validation_tau = 0, validation_r2 = 0;
  bool best = false;
};

enum class RunStage { fresh, started, finished };

class RunDir {
 public:
  explicit RunDir(std::filesystem::path root) : root_(std::move(root)) {}
  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path config_file() const { return root_ / "config.yaml"; }
  std::filesystem::path metrics_file() const { return root_ / "metrics.jsonl"; }
  std::filesystem::path last() const { return root_ / "checkpoints" / "last"; }
  std::filesystem::path best() const { return root_ / "checkpoints" / "best"; }
  std::filesystem::path evaluation_file(const std::string& name) const { return root_ / "evaluations" / (name + ".json"); }

  /// Whether `root` looks like a run directory (config.yaml and metrics.jsonl or checkpoints/).
  bool exists() const;
  /// The one rule (see above) for training `cfg` in this directory. CheckpointError naming the file when
  /// checkpoints/last is damaged.
  RunStage stage(const config::Config& cfg) const;
  /// The training state of checkpoints/last (state.json), checked against its manifest.
  Json last_state() const;
  /// Every epoch of metrics.jsonl, once each: a record of epoch k drops the earlier records of epochs >= k (a
  /// resume repeats the epochs after its checkpoint). DataError naming the file and line for a truncated or
  /// malformed line.
  std::vector<EpochRecord> epochs() const;

  /// A stored evaluation whose "source" member equals `source` (see evaluation.h), if there is one.
  std::optional<Json> cached_evaluation(const std::string& name, const Json& source) const;
  /// Stores an evaluation (atomically) under evaluations/NAME.json.
  void store_evaluation(const std::string& name, const Json& evaluation) const;

 private:
  std::filesystem::path root_;
};

/// The one "is this training done" rule on a checkpoint state: every epoch trained, or stopped early.
bool training_finished(const Json& state, const config::Config& cfg);

/// A file or folder name made of [A-Za-z0-9._-] from `text` (others become '_').
std::string safe_name(const std::string& text);

}  // namespace sne::study
