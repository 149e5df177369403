#pragma once
// Input and target scaling fitted on the training split and stored with the model.
// Weights: each tensor standardised by its (architecture, tensor) statistics over the training zoo; a tensor of an
// architecture never seen in training falls back to the statistics of its (layer kind, role), then to all weights.
#include <map>
#include <memory>
#include <string>

#include "core/json.h"
#include "zoo/architecture.h"
#include "zoo/zoo_file.h"

namespace sne::train {

struct Moments {
  double sum = 0, sum_sq = 0;
  double count = 0;
  void add(double v) { sum += v, sum_sq += v * v, count += 1; }
  double mean() const { return count > 0 ? sum / count : 0.0; }
  double stddev() const;  ///< at least 1e-8
};

class ValueNormalizer {
 public:
  /// mode "none" leaves values unchanged; "tensor" fits statistics on `split` of `zoo` (streamed).
  static ValueNormalizer fit(std::shared_ptr<const zoo::ZooFile> zoo, const std::string& split, const std::string& mode,
                             int64_t memory_budget_bytes, double subset_fraction = 1.0, uint64_t subset_seed = 0);
  /// Standardises `params` (spec.num_params() floats) in place.
  void apply(const zoo::ArchitectureSpec& spec, float* params) const;
  Json to_json() const;
  static ValueNormalizer from_json(const Json& j);

 private:
  std::string mode_ = "none";
  std::map<std::string, Moments> tensor_, kind_role_;
  Moments all_;
};

/// Maps a property to the model's output scale: (y - mean) / std for "mse", identity for "bce".
struct TargetScaler {
  std::string loss = "mse";
  double mean = 0, std = 1;
  static TargetScaler fit(const std::vector<double>& train_values, const std::string& loss);
  double to_model(double y) const { return loss == "mse" ? (y - mean) / std : y; }
  double from_model(double out) const;  ///< sigmoid for bce
  Json to_json() const;
  static TargetScaler from_json(const Json& j);
};

}  // namespace sne::train
