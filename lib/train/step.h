#pragma once
// One optimisation step, behind an interface: the seam where a data-parallel updater plugs in. LocalStep is the
// single-process step (forward with the invariance term, backward, clipping, AdamW); an updater for several
// processes overrides reduce_gradients() to all-reduce the gradients between backward and the update, and keeps
// everything else.
#include <torch/optim/optimizer.h>

#include <random>

#include "config/config.h"
#include "train/batch.h"
#include "train/model.h"

namespace sne::train {

/// The model's outputs on a prepared batch [N], and the mean invariance gap 1/2 (f(x) - f(g x))^2 over `samples`
/// random symmetry transforms g (a zero scalar when samples is 0); the transformed copies are encoded in the
/// same forward pass as the batch.
std::pair<torch::Tensor, torch::Tensor> forward_with_invariance(Model& model, const PreparedBatch& b,
                                                               BatchPreparer& preparer, int64_t samples,
                                                               std::mt19937_64& rng);

/// What a step returns: detached scalars on the model's device (reading them synchronises; the trainer reads
/// them only when it displays or saves).
struct StepLosses {
  torch::Tensor task, invariance;
};

class TrainStep {
 public:
  virtual ~TrainStep() = default;
  /// Trains on `batch` at learning rate `lr`; the invariance term's transforms come from `rng`.
  virtual StepLosses run(const PreparedBatch& batch, BatchPreparer& preparer, double lr, std::mt19937_64& rng) = 0;
};

class LocalStep : public TrainStep {
 public:
  LocalStep(Model model, torch::optim::Optimizer& optimizer, const config::Config& config);
  StepLosses run(const PreparedBatch& batch, BatchPreparer& preparer, double lr, std::mt19937_64& rng) override;

 protected:
  /// Between backward and the update: nothing for one process.
  virtual void reduce_gradients() {}

  Model model_;
  torch::optim::Optimizer& optimizer_;
  const config::Config& config_;
  int64_t samples_;  ///< invariance samples per step (0 when the model is invariant by construction)
};

}  // namespace sne::train
