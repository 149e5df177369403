#include "train/schedule.h"

#include <algorithm>
#include <cmath>

namespace sne::train {

double learning_rate(const config::TrainSettings& t, int64_t step, int64_t total_steps) {
  if (step < t.warmup_steps) return t.lr * static_cast<double>(step + 1) / static_cast<double>(t.warmup_steps);
  if (t.lr_schedule == "constant") return t.lr;
  const int64_t span = std::max<int64_t>(total_steps - t.warmup_steps - 1, 1);
  const double progress = std::min(1.0, static_cast<double>(step - t.warmup_steps) / static_cast<double>(span));
  const double floor = t.lr * t.final_lr_fraction;
  return floor + (t.lr - floor) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace sne::train
