#include "train/step.h"

#include <torch/torch.h>

namespace sne::train {

std::pair<torch::Tensor, torch::Tensor> forward_with_invariance(Model& model, const PreparedBatch& b,
                                                               BatchPreparer& preparer, int64_t samples,
                                                               std::mt19937_64& rng) {
  if (samples == 0) {
    const torch::Tensor out = model->forward(b.input);
    return {out, torch::zeros({}, out.options())};
  }
  // The batch and its transformed copies in one pass: the same codes as separate passes (every network is
  // encoded on its own), with each stage's fixed costs paid once.
  const auto n = static_cast<int64_t>(b.archs.size());
  const torch::Tensor all = model->forward(preparer.with_transformed(b, samples, rng));  // [(samples + 1) N]
  const torch::Tensor out = all.narrow(0, 0, n);
  torch::Tensor inv = torch::zeros({}, out.options());
  for (int64_t s = 1; s <= samples; ++s) inv = inv + 0.5 * (out - all.narrow(0, s * n, n)).pow(2).mean();
  return {out, inv / static_cast<double>(samples)};
}

LocalStep::LocalStep(Model model, torch::optim::Optimizer& optimizer, const config::Config& config)
    : model_(std::move(model)), optimizer_(optimizer), config_(config) {
  // A model invariant to every symmetry by construction would get a zero term for a second forward pass.
  samples_ = config.train.invariance_weight > 0 && !model_->invariant_by_construction()
                 ? config.train.invariance_samples
                 : 0;
}

StepLosses LocalStep::run(const PreparedBatch& batch, BatchPreparer& preparer, double lr, std::mt19937_64& rng) {
  for (auto& g : optimizer_.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
  auto [out, inv] = forward_with_invariance(model_, batch, preparer, samples_, rng);
  const torch::Tensor task = config_.task.loss == "mse" ? torch::mse_loss(out, batch.target)
                                                         : torch::binary_cross_entropy_with_logits(out, batch.target);
  const torch::Tensor loss = task + config_.train.invariance_weight * inv;
  optimizer_.zero_grad();
  loss.backward();
  reduce_gradients();
  if (config_.train.grad_clip > 0) torch::nn::utils::clip_grad_norm_(model_->parameters(), config_.train.grad_clip);
  optimizer_.step();
  return {task.detach(), inv.detach()};
}

}  // namespace sne::train
