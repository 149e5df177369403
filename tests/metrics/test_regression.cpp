#include "sne_catch.h"

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include <stdexcept>

#include "metrics/regression.h"

using namespace sne::metrics;

TEST_CASE("kendall tau-b and spearman on known values") {
  CHECK(kendall_tau_b({1, 2, 3, 4}, {10, 20, 30, 40}) == Approx(1.0));
  CHECK(kendall_tau_b({1, 2, 3, 4}, {4, 3, 2, 1}) == Approx(-1.0));
  // Hand count: x = 1 2 3 4 5, y = 3 1 2 5 4: 7 concordant, 3 discordant pairs, no ties -> 0.4.
  CHECK(kendall_tau_b({1, 2, 3, 4, 5}, {3, 1, 2, 5, 4}) == Approx(0.4));
  // With ties (scipy.stats.kendalltau([1,2,2,3],[1,3,2,4]) = 0.9128709291752769).
  CHECK(kendall_tau_b({1, 2, 2, 3}, {1, 3, 2, 4}) == Approx(0.9128709291752769));
  CHECK(spearman_rho({1, 2, 3, 4, 5}, {5, 6, 7, 8, 7}) == Approx(0.8207826816681233));
  CHECK(spearman_rho({1, 2, 3}, {1, 1, 1}) == 0.0);  // a constant has no ranking
}

TEST_CASE("regression metrics and their refusals") {
  const auto m = evaluate({1, 2, 3, 5}, {1, 2, 3, 4});
  CHECK(m.mse == Approx(0.25));
  CHECK(m.mae == Approx(0.25));
  CHECK(m.r2 == Approx(1 - 1.0 / 5.0));
  CHECK(m.kendall_tau == Approx(1.0));
  CHECK(m.count == 4);
  const auto mean_predictor = evaluate({2.5, 2.5, 2.5, 2.5}, {1, 2, 3, 4});
  CHECK(mean_predictor.r2 == Approx(0.0));
  CHECK_THROWS_AS(evaluate({1, 2}, {1, 2, 3}), std::invalid_argument);
  CHECK_THROWS_AS(evaluate({1}, {1}), std::invalid_argument);
}

TEST_CASE("a NaN or infinite value makes every metric NaN, never a perfect rank statistic") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const auto& [predicted, truth] :
       std::vector<std::pair<std::vector<double>, std::vector<double>>>{{{nan, nan, nan}, {1, 2, 3}},
                                                                        {{1, 2, 3}, {1, nan, 3}},
                                                                        {{1, HUGE_VAL, 3}, {1, 2, 3}}}) {
    const auto m = sne::metrics::evaluate(predicted, truth);
    CHECK(std::isnan(m.mse));
    CHECK(std::isnan(m.r2));
    CHECK(std::isnan(m.kendall_tau));
    CHECK(std::isnan(m.spearman_rho));
    CHECK(m.count == 3);
  }
}
