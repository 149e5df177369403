#pragma once
// Internal to lib/generators: the pieces both ways of training a batch of CNN runs share (cnn_training.cpp: all
// runs as one batched computation, for GPUs; cnn_threaded.cpp: one run per thread, for CPUs): each run's data
// subset and epoch order, the loss, the optimisers, evaluation.
#include <cstdint>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "generators/cnn_runs.h"

namespace sne::generators::detail {

/// A run's training subset (indices into the training images) and its steps per epoch.
struct RunState {
  std::vector<int64_t> subset;
  int64_t steps_per_epoch = 1;
};
RunState run_state(const CnnRun& run, int64_t n_train, int64_t batch_size);
/// The run's order of its subset in `epoch` (seeded by the run and the epoch only).
std::vector<int64_t> epoch_order(const CnnRun& run, const RunState& s, int64_t epoch);

/// (1, P): 1 on the parameters L2 acts on (role "weight" of conv, linear and attention layers), else 0.
torch::Tensor l2_mask(const zoo::ArchitectureSpec& spec, const torch::TensorOptions& o);

/// The summed training loss of N networks on their batch: mean cross-entropy per network plus its L2 term.
/// `w` (N, P) requires grad; `l2` (N, 1).
torch::Tensor training_loss(const BatchedNets& nets, const torch::Tensor& xb, const torch::Tensor& yb,
                            const torch::Tensor& l2_mask, const torch::Tensor& l2);

/// Mean loss and accuracy of every network on its own examples: idx (N, E) indices into x/y, in slices; network
/// k counts only its first count[k] columns (all E when `count` is undefined).
std::pair<torch::Tensor, torch::Tensor> evaluate(const zoo::ArchitectureSpec& spec, const torch::Tensor& params,
                                                 const std::vector<int>& act, const torch::Tensor& x,
                                                 const torch::Tensor& y, const torch::Tensor& idx, int64_t slice,
                                                 const std::string& mode, const torch::Tensor& count = {});

/// SGD, Adam or RMSProp per row (network), with the recipe's constants; rows whose update would make their
/// weights non-finite keep their last finite weights and stop (`alive` 0).
class Optimisers {
 public:
  Optimisers(const std::vector<CnnRun>& runs, int64_t num_params, const torch::TensorOptions& o);
  /// One update of the rows where `active` (N, 1) is 1 with gradients `g` (N, P). Returns the rows that
  /// diverged in this update.
  std::vector<int64_t> step(torch::Tensor& params, const torch::Tensor& g, const torch::Tensor& active);
  const torch::Tensor& l2() const { return l2_; }

 private:
  torch::Tensor lr_, l2_, is_sgd_, is_adam_, is_rms_, m1_, m2_, t_, alive_;
};

/// train_cnn_runs's two ways (same arguments).
std::vector<CnnResult> train_batched(const zoo::ArchitectureSpec& spec, const CnnRecipe& r, const CnnChoices& c,
                                     const std::vector<CnnRun>& runs, const CnnData& data, const Context& ctx,
                                     const std::atomic<bool>* stop, const std::function<void(int64_t)>& on_epoch,
                                     const std::string& mode, const std::function<void()>& on_step);
std::vector<CnnResult> train_threaded(const zoo::ArchitectureSpec& spec, const CnnRecipe& r, const CnnChoices& c,
                                      const std::vector<CnnRun>& runs, const CnnData& data, const Context& ctx,
                                      const std::atomic<bool>* stop, const std::function<void(int64_t)>& on_epoch,
                                      const std::function<void()>& on_step);

}  // namespace sne::generators::detail
