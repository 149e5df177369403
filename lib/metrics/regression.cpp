#include "metrics/regression.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace sne::metrics {
namespace {

void check_pairs(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size())
    throw std::invalid_argument("metrics: " + std::to_string(x.size()) + " predictions for " +
                                std::to_string(y.size()) + " targets");
  if (x.size() < 2) throw std::invalid_argument("metrics: need at least 2 networks, got " + std::to_string(x.size()));
}

// Average ranks (1-based), ties share the mean of their positions.
std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double avg = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (std::size_t k = i; k <= j; ++k) r[order[k]] = avg;
    i = j + 1;
  }
  return r;
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : 0.0;
}

}  // namespace

double kendall_tau_b(const std::vector<double>& x, const std::vector<double>& y) {
  check_pairs(x, y);
  // O(n^2) pair count: exact, and fast enough for test splits of tens of thousands of networks.
  long long concordant = 0, discordant = 0, tie_x = 0, tie_y = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    for (std::size_t j = i + 1; j < x.size(); ++j) {
      const double dx = x[i] - x[j], dy = y[i] - y[j];
      if (dx == 0 && dy == 0) continue;
      if (dx == 0) ++tie_x;
      else if (dy == 0) ++tie_y;
      else if ((dx > 0) == (dy > 0)) ++concordant;
      else ++discordant;
    }
  const double n0 = static_cast<double>(concordant + discordant);
  const double denom = std::sqrt((n0 + static_cast<double>(tie_x)) * (n0 + static_cast<double>(tie_y)));
  return denom > 0 ? static_cast<double>(concordant - discordant) / denom : 0.0;
}

double spearman_rho(const std::vector<double>& x, const std::vector<double>& y) {
  check_pairs(x, y);
  return pearson(ranks(x), ranks(y));
}

Json to_json(const RegressionMetrics& m) {
  Json j = Json::object();
  j.set("mse", m.mse);
  j.set("mae", m.mae);
  j.set("r2", m.r2);
  j.set("kendall_tau", m.kendall_tau);
  j.set("spearman_rho", m.spearman_rho);
  j.set("count", m.count);
  return j;
}

RegressionMetrics evaluate(const std::vector<double>& predicted, const std::vector<double>& truth) {
  check_pairs(predicted, truth);
  RegressionMetrics m;
  m.count = static_cast<long long>(truth.size());
  // A NaN or infinite value (a diverged model) makes every metric undefined: no rank statistic may look perfect
  // while the errors are NaN.
  const auto finite = [](double v) { return std::isfinite(v); };
  if (!std::all_of(predicted.begin(), predicted.end(), finite) || !std::all_of(truth.begin(), truth.end(), finite)) {
    m.mse = m.mae = m.r2 = m.kendall_tau = m.spearman_rho = std::numeric_limits<double>::quiet_NaN();
    return m;
  }
  const double n = static_cast<double>(truth.size());
  const double mean = std::accumulate(truth.begin(), truth.end(), 0.0) / n;
  double ss_res = 0, ss_tot = 0, abs = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const double e = predicted[i] - truth[i];
    ss_res += e * e;
    abs += std::fabs(e);
    ss_tot += (truth[i] - mean) * (truth[i] - mean);
  }
  m.mse = ss_res / n;
  m.mae = abs / n;
  m.r2 = ss_tot > 0 ? 1.0 - ss_res / ss_tot : 0.0;
  m.kendall_tau = kendall_tau_b(predicted, truth);
  m.spearman_rho = spearman_rho(predicted, truth);
  return m;
}

}  // namespace sne::metrics
