#pragma once
// `sne zoo generate cnn`: trains image classifiers of one architecture (arch1, arch2, vit) on one dataset with
// hyper-parameters sampled per network in the style of Unterthiner et al. 2020 (activation, optimiser, learning
// rate, L2, dropout, initialisation, fraction of the training data), stores each network at several epochs
// (each checkpoint is its own network with property `step`), and writes splits by training run.
// The runs themselves are trained by cnn_runs.h; finished runs are flushed after every batch, so an interrupted
// generation continues where it stopped.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "generators/cnn_runs.h"

namespace sne::generators {

struct CnnZooReport {
  int64_t total_runs = 0, already_present = 0, trained = 0, networks = 0;
  bool interrupted = false, splits_written = false;
  int64_t test_runs = 0, validation_runs = 0, train_runs = 0;
  std::vector<double> final_test_accuracy;  ///< of the runs trained by this call
  int64_t diverged = 0;
  double seconds = 0;
  std::string architecture;
  int64_t num_params = 0;
};

/// Generates (or completes) the zoo at `path`. An existing file must hold a zoo of the same recipe and seed
/// (else IoError naming what differs). `progress(done, total)` counts network-epochs. `estimate(seconds, steps)`
/// is called once, after a short calibration (the first kCalibrationSteps optimisation steps after a warm-up
/// step): the projected training time of the runs still to train, from the measured time per step times the
/// `steps` they need (checkpoint evaluations not included).
inline constexpr int64_t kCalibrationSteps = 4;
CnnZooReport generate_cnn_zoo(const CnnRecipe& r, int64_t seed, const std::string& path, const Context& ctx,
                              const std::atomic<bool>* stop = nullptr,
                              const std::function<void(int64_t, int64_t)>& progress = {},
                              const std::function<void(double, int64_t)>& estimate = {});

}  // namespace sne::generators
