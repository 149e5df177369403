#include "train/step.h"

#include <torch/torch.h>

#include <torch/csrc/autograd/utils/lambda_post_hook.h>

#include <chrono>
#include <stdexcept>

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

namespace {

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& g : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
}

torch::Tensor task_loss(const config::Config& config, const torch::Tensor& out, const torch::Tensor& target) {
  return config.task.loss == "mse" ? torch::mse_loss(out, target) : torch::binary_cross_entropy_with_logits(out, target);
}

}  // namespace

int64_t invariance_samples(const Model& model, const config::Config& config,
                           const std::vector<zoo::ArchitectureSpec>& archs) {
  return config.train.invariance_weight > 0 && !model->invariant_to(archs) ? config.train.invariance_samples : 0;
}

LocalStep::LocalStep(Model model, torch::optim::Optimizer& optimizer, const config::Config& config,
                     std::mt19937_64& rng, const std::vector<zoo::ArchitectureSpec>& archs)
    : model_(std::move(model)), optimizer_(optimizer), config_(config), rng_(rng) {
  samples_ = invariance_samples(model_, config, archs);
}

StepLosses LocalStep::run(const StepInput& in, BatchPreparer& preparer, double lr) {
  const PreparedBatch& batch = *in.parts.at(0);
  set_learning_rate(optimizer_, lr);
  auto [out, inv] = forward_with_invariance(model_, batch, preparer, samples_, rng_);
  const torch::Tensor task = task_loss(config_, out, batch.target);
  const torch::Tensor loss = task + config_.train.invariance_weight * inv;
  optimizer_.zero_grad();
  loss.backward();
  if (config_.train.grad_clip > 0) torch::nn::utils::clip_grad_norm_(model_->parameters(), config_.train.grad_clip);
  optimizer_.step();
  return {task.detach(), inv.detach(), in.stop_requested, static_cast<int64_t>(batch.archs.size())};
}

std::mt19937_64 shard_rng(int64_t seed, int64_t step, int64_t shard) {
  // splitmix64 over the three numbers: well-separated streams for neighbouring steps and shards.
  uint64_t x = static_cast<uint64_t>(seed) * 0x9e3779b97f4a7c15ull;
  for (const uint64_t v : {static_cast<uint64_t>(step), static_cast<uint64_t>(shard)}) {
    x ^= v + 0x9e3779b97f4a7c15ull + (x << 6) + (x >> 2);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
  }
  return std::mt19937_64(x);
}

ShardedStep::ShardedStep(Model model, torch::optim::Optimizer& optimizer, const config::Config& config,
                         Collective* collective, const std::vector<zoo::ArchitectureSpec>& archs,
                         int64_t bucket_bytes)
    : model_(std::move(model)), optimizer_(optimizer), config_(config), collective_(collective) {
  samples_ = invariance_samples(model_, config, archs);
  params_ = model_->parameters();
  // Buckets in reverse parameter order, the order in which the backward pass finishes the gradients.
  std::vector<int64_t> bucket;
  int64_t bytes = 0;
  bucket_of_.assign(params_.size(), 0);
  for (auto i = static_cast<int64_t>(params_.size()) - 1; i >= 0; --i) {
    bucket.push_back(i);
    bucket_of_[static_cast<std::size_t>(i)] = buckets_.size();
    bytes += params_[static_cast<std::size_t>(i)].numel() * params_[static_cast<std::size_t>(i)].element_size();
    if (bytes >= bucket_bytes) {
      buckets_.push_back(std::move(bucket));
      bucket.clear();
      bytes = 0;
    }
  }
  if (!bucket.empty()) buckets_.push_back(std::move(bucket));
  if (collective_ && collective_->size() > 1) {
    // The accumulator of each parameter's gradient calls back once that gradient is summed for this pass;
    // holding the accumulators keeps the hooks alive between steps.
    for (std::size_t i = 0; i < params_.size(); ++i) {
      auto acc = torch::autograd::impl::grad_accumulator(params_[i]);
      hooks_.push_back(acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
          [this, i](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
            if (armed_) gradient_ready(i);
            return outputs;
          })));
      accumulators_.push_back(std::move(acc));
    }
  }
}

ShardedStep::~ShardedStep() {
  for (std::size_t i = 0; i < accumulators_.size(); ++i) accumulators_[i]->del_post_hook(hooks_[i]);
}

void ShardedStep::gradient_ready(std::size_t param) {
  // A gradient accumulated twice in one pass was read before it was final: never reduce a partial sum silently.
  if (fired_[param]++ > 0)
    throw std::logic_error("data-parallel step: the gradient of parameter " + std::to_string(param) +
                           " was accumulated twice in one backward pass after its bucket was sent");
  if (++ready_[bucket_of_[param]] == static_cast<int64_t>(buckets_[bucket_of_[param]].size())) launch_ready_buckets();
}

void ShardedStep::launch_ready_buckets() {
  // Strictly in bucket order: every rank must start the same collectives in the same order, whatever order its
  // own backward pass finished the gradients in.
  while (next_launch_ < buckets_.size() &&
         ready_[next_launch_] == static_cast<int64_t>(buckets_[next_launch_].size()))
    launch(next_launch_++);
}

void ShardedStep::launch(std::size_t k) {
  std::vector<torch::Tensor> pieces;
  for (const int64_t i : buckets_[k]) {
    const torch::Tensor& p = params_[static_cast<std::size_t>(i)];
    pieces.push_back(p.grad().defined() ? p.grad().reshape(-1) : torch::zeros({p.numel()}, p.options()));
  }
  flat_[k] = torch::cat(pieces);
  if (collective_ && collective_->size() > 1) pending_[k] = collective_->start_allreduce_sum(flat_[k]);
}

StepLosses ShardedStep::run(const StepInput& in, BatchPreparer& preparer, double lr) {
  set_learning_rate(optimizer_, lr);
  optimizer_.zero_grad();
  const auto dopts = torch::TensorOptions().dtype(torch::kDouble).device(params_.at(0).device());
  torch::Tensor task_sum = torch::zeros({}, dopts), inv_sum = torch::zeros({}, dopts);
  double count = 0;
  ready_.assign(buckets_.size(), 0);
  next_launch_ = 0;
  flat_.assign(buckets_.size() + 1, torch::Tensor());
  pending_.clear();
  pending_.resize(buckets_.size() + 1);
  // Each part's loss weighted by its network count: the gradients accumulate to the sum over this process's
  // networks, which the all-reduce makes the sum over the step's whole batch.
  std::size_t last = in.parts.size();
  for (std::size_t k = 0; k < in.parts.size(); ++k)
    if (!in.parts[k]->archs.empty()) last = k;
  for (std::size_t k = 0; k < in.parts.size(); ++k) {
    const PreparedBatch& b = *in.parts[k];
    const auto n = static_cast<double>(b.archs.size());
    if (n == 0) continue;
    std::mt19937_64 rng = shard_rng(config_.run.seed, in.step, in.shards.at(k));
    auto [out, inv] = forward_with_invariance(model_, b, preparer, samples_, rng);
    const torch::Tensor task = task_loss(config_, out, b.target);
    // The gradients are final only in the last part's backward pass, and only when it has no nested backward
    // passes: a recomputed part accumulates each gradient again. Then the buckets start after it.
    armed_ = k == last && !model_->recomputes_in_backward();
    fired_.assign(params_.size(), 0);
    ((task + config_.train.invariance_weight * inv) * n).backward();
    armed_ = false;
    task_sum += task.detach().to(torch::kDouble) * n;
    inv_sum += inv.detach().to(torch::kDouble) * n;
    count += n;
  }
  // What the backward pass did not start: buckets of parameters without a gradient in this step, and the
  // scalars (the loss sums, the network count, the stop votes).
  for (std::size_t k = 0; k < buckets_.size(); ++k) ready_[k] = static_cast<int64_t>(buckets_[k].size());
  launch_ready_buckets();
  flat_.back() = torch::stack({task_sum, inv_sum, torch::full({}, count, dopts),
                               torch::full({}, in.stop_requested ? 1.0 : 0.0, dopts)});
  if (collective_ && collective_->size() > 1) {
    pending_.back() = collective_->start_allreduce_sum(flat_.back());
    const auto t0 = std::chrono::steady_clock::now();
    for (auto& p : pending_) p->wait();
    reduce_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  const torch::Tensor scalars = flat_.back().cpu();
  const double total = scalars[2].item<double>();
  if (total <= 0) throw std::logic_error("a data-parallel step with no network on any rank");
  for (std::size_t k = 0; k < buckets_.size(); ++k) {
    const torch::Tensor mean = flat_[k] / total;
    int64_t at = 0;
    for (const int64_t i : buckets_[k]) {
      torch::Tensor p = params_[static_cast<std::size_t>(i)];
      torch::Tensor g = mean.narrow(0, at, p.numel()).view_as(p);
      if (p.grad().defined())
        p.mutable_grad().copy_(g);
      else
        p.mutable_grad() = g.clone();
      at += p.numel();
    }
  }
  if (config_.train.grad_clip > 0) torch::nn::utils::clip_grad_norm_(params_, config_.train.grad_clip);
  optimizer_.step();
  const torch::Tensor& reduced = flat_.back();
  return {(reduced[0] / total).to(torch::kFloat), (reduced[1] / total).to(torch::kFloat), scalars[3].item<double>() > 0,
          static_cast<int64_t>(total)};
}

}  // namespace sne::train
