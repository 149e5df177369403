#pragma once
// Metrics of predicted against true property values (all in the property's original units).
#include <vector>

#include "core/json.h"

namespace sne::metrics {

struct RegressionMetrics {
  double mse = 0, mae = 0, r2 = 0;
  double kendall_tau = 0;   ///< tau-b (ties in either variable accounted for)
  double spearman_rho = 0;  ///< Pearson correlation of average ranks
  long long count = 0;
};

/// Throws std::invalid_argument when the sizes differ or there are fewer than 2 pairs. Any NaN or infinite value
/// makes every metric NaN.
RegressionMetrics evaluate(const std::vector<double>& predicted, const std::vector<double>& truth);

/// {"mse", "mae", "r2", "kendall_tau", "spearman_rho", "count"}
Json to_json(const RegressionMetrics& m);

double kendall_tau_b(const std::vector<double>& x, const std::vector<double>& y);
double spearman_rho(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace sne::metrics
