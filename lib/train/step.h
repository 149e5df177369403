#pragma once
// One optimisation step, behind an interface. LocalStep is the single-process step on one batch; ShardedStep is
// the data-parallel one, whose batch is cut into data shards owned by one or several processes.
#include <torch/csrc/autograd/function.h>
#include <torch/optim/optimizer.h>

#include <random>

#include "config/config.h"
#include "train/batch.h"
#include "train/collective.h"
#include "train/model.h"

namespace sne::train {

/// The model's outputs on a prepared batch [N], and the mean invariance gap 1/2 (f(x) - f(g x))^2 over `samples`
/// random symmetry transforms g (a zero scalar when samples is 0); the transformed copies are encoded in the
/// same forward pass as the batch.
std::pair<torch::Tensor, torch::Tensor> forward_with_invariance(Model& model, const PreparedBatch& b,
                                                               BatchPreparer& preparer, int64_t samples,
                                                               std::mt19937_64& rng);

/// The invariance term's transforms per step: train.invariance_samples, or 0 when the term's weight is 0 or the
/// model is invariant by construction to the symmetries of every one of `archs` (the term would be exactly 0
/// for the price of encoding each batch again).
int64_t invariance_samples(const Model& model, const config::Config& config,
                           const std::vector<zoo::ArchitectureSpec>& archs);

/// What a step returns: detached scalars on the model's device (reading them synchronises; the trainer reads
/// them only when it displays or saves), and whether the ranks agreed to stop after this step.
struct StepLosses {
  torch::Tensor task, invariance;
  bool stop = false;
  int64_t networks = 0;  ///< in the step's whole batch, over every rank
};

/// One step's data as this process sees it: one prepared batch per data shard it owns (a shard whose epoch has
/// ended contributes none), and whether this process was asked to stop.
struct StepInput {
  std::vector<const PreparedBatch*> parts;
  std::vector<int64_t> shards;  ///< the data shard of each part
  int64_t step = 0;             ///< the optimizer step this is (0-based, over the whole run)
  bool stop_requested = false;
};

class TrainStep {
 public:
  virtual ~TrainStep() = default;
  /// Trains on `in` at learning rate `lr`.
  virtual StepLosses run(const StepInput& in, BatchPreparer& preparer, double lr) = 0;
};

/// The single-process step on one batch: forward with the invariance term (its transforms drawn from `rng`,
/// which is part of the resumable state), backward, clipping, AdamW. `archs`: the zoo's architectures.
class LocalStep : public TrainStep {
 public:
  LocalStep(Model model, torch::optim::Optimizer& optimizer, const config::Config& config, std::mt19937_64& rng,
            const std::vector<zoo::ArchitectureSpec>& archs);
  StepLosses run(const StepInput& in, BatchPreparer& preparer, double lr) override;

 private:
  Model model_;
  torch::optim::Optimizer& optimizer_;
  const config::Config& config_;
  std::mt19937_64& rng_;
  int64_t samples_;  ///< invariance_samples()
};

/// The step of a run whose batches are cut into data shards, on one process or several: each owned shard's
/// part is a forward and backward pass whose gradient is weighted by its network count; the weighted sums,
/// the losses and the stop requests of all ranks are summed in flat buckets by `collective` (none: this process
/// owns every shard), divided by the step's total network count, then clipped and applied. The result is the
/// step on the whole batch, whatever the number of processes. A shard's invariance transforms come from a
/// generator seeded by (run.seed, step, shard), so they too do not depend on which process owns the shard.
/// With several processes a bucket's all-reduce starts during the last part's backward pass, as soon as its
/// gradients are final (hooks on the parameters' gradient accumulators), in the same bucket order on every rank;
/// after the pass when the model recomputes activations in it (encoder.chunk_budget), whose nested backward
/// passes accumulate a gradient more than once.
class ShardedStep : public TrainStep {
 public:
  ShardedStep(Model model, torch::optim::Optimizer& optimizer, const config::Config& config, Collective* collective,
              const std::vector<zoo::ArchitectureSpec>& archs, int64_t bucket_bytes = int64_t{256} << 10);
  ~ShardedStep() override;
  StepLosses run(const StepInput& in, BatchPreparer& preparer, double lr) override;
  /// Seconds the steps waited for the gradient all-reduce after their backward passes (for the scaling figures).
  double reduce_seconds() const { return reduce_seconds_; }

 private:
  void gradient_ready(std::size_t param);
  void launch_ready_buckets();
  void launch(std::size_t bucket);

  Model model_;
  torch::optim::Optimizer& optimizer_;
  const config::Config& config_;
  Collective* collective_;
  std::vector<torch::Tensor> params_;
  std::vector<std::vector<int64_t>> buckets_;  ///< parameter indices per flat bucket
  std::vector<std::size_t> bucket_of_;          ///< per parameter
  int64_t samples_;
  double reduce_seconds_ = 0;
  // The overlap: per step, which gradients are final, which buckets are flattened and in flight.
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;
  std::vector<uintptr_t> hooks_;
  bool armed_ = false;
  std::vector<int64_t> ready_;
  std::vector<int> fired_;  ///< per parameter: its accumulator's calls in the armed pass
  std::size_t next_launch_ = 0;
  std::vector<torch::Tensor> flat_;
  std::vector<std::unique_ptr<Collective::Pending>> pending_;
};

/// The generator of shard `shard`'s invariance transforms at optimizer step `step`.
std::mt19937_64 shard_rng(int64_t seed, int64_t step, int64_t shard);

}  // namespace sne::train
