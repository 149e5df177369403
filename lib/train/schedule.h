#pragma once
// The learning-rate schedule: linear warm-up, then constant or a cosine decay over the whole run.
#include <cstdint>

#include "config/config.h"

namespace sne::train {

/// Learning rate for optimisation step `step` (0-based) of a run of `total_steps` steps.
/// Warm-up: lr * (step + 1) / warmup_steps. After it, "constant" keeps lr; "cosine" falls from lr to
/// lr * final_lr_fraction along half a cosine, reaching the floor at the last step.
double learning_rate(const config::TrainSettings& t, int64_t step, int64_t total_steps);

}  // namespace sne::train
