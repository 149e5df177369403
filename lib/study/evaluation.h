#pragma once
// A checkpoint's metrics on one split of one zoo, with the predictions behind them and the mean predictor's MSE
// (the training targets' mean: the bar any model must clear). `sne eval`, `sne run`, the studies and the
// reports all use this one type.
#include <string>
#include <vector>

#include "core/json.h"
#include "metrics/regression.h"
#include "runtime/context.h"
#include "study/run_dir.h"

namespace sne::study {

struct EvaluationRequest {
  std::string checkpoint;  ///< a checkpoint directory (RUN/checkpoints/best)
  std::string zoo;         ///< "" = the zoo it was trained on
  std::string split;       ///< "" = its task.test_split
  int64_t invariance_samples = 5;
};

struct Evaluation {
  std::string checkpoint, model, zoo, split, property;
  int64_t parameters = 0, invariance_samples = 0, unknown_skipped = 0;
  metrics::RegressionMetrics metrics;
  double invariance_error = 0, mean_predictor_mse = 0;
  std::vector<int64_t> index;              ///< the networks, in the zoo's numbering
  std::vector<double> truth, predicted;    ///< in the property's units
  std::string error;  ///< not empty: the model cannot read this zoo (e.g. the MLP on another architecture)
  Json source;        ///< what was evaluated (checkpoint epoch and step, zoo, split, samples): the cache key

  bool applicable() const { return error.empty(); }
  /// Marks it as not evaluated (`error` = why), every metric NaN, so that no mean or table counts it.
  void set_unavailable(const std::string& why);
  /// {"mse", ..., "model", "parameters", "zoo", "split", ...} plus "predictions" {index, truth, predicted}
  /// when `with_predictions`.
  Json to_json(bool with_predictions = true) const;
  /// DataError naming `what` when a member is missing or has the wrong type.
  static Evaluation from_json(const Json& j, const std::string& what);
};

/// Evaluates a checkpoint (streamed). Errors of the zoo or the checkpoint propagate.
Evaluation evaluate(const EvaluationRequest& rq, const Context& ctx);

/// What `rq` would evaluate: the checkpoint's epoch, step and weights (model.pt's CRC-32), the zoo path and
/// split actually used (with the zoo file's size and time), the symmetry samples and `seed`.
Json evaluation_source(const EvaluationRequest& rq, int64_t seed);

/// Evaluates `run`'s best checkpoint, reusing RUN/evaluations/NAME.json when it was made from the same
/// source (evaluation_source; a damaged file is computed again). With `tolerate_unreadable`, a zoo the model cannot read (DataError,
/// CheckpointError or ConfigError) gives an Evaluation whose `error` says why, stored like any other.
Evaluation evaluate_run(const RunDir& run, const std::string& name, EvaluationRequest rq, const Context& ctx,
                        bool tolerate_unreadable = false);

}  // namespace sne::study
