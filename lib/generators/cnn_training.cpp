// The training side of cnn_runs.h: the images as tensors, the pieces both ways of training share
// (cnn_training_parts.h), and the batched way, all runs of a batch as one computation (the GPU's); the CPU's,
// one run per thread, is in cnn_threaded.cpp. The runs' sampling, initialisation and recipe are in cnn_runs.cpp.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "generators/cnn_runs.h"
#include "generators/cnn_training_parts.h"

namespace sne::generators {

CnnData prepare_cnn_data(const data::Dataset& d, const CnnRecipe& r, const Context& ctx) {
  auto to_tensors = [&](const data::ImageSet& s, int64_t limit, torch::Tensor& x, torch::Tensor& y) {
    const int64_t n = limit > 0 ? std::min(limit, s.count) : s.count;
    auto bytes = torch::from_blob(const_cast<uint8_t*>(s.pixels.data()), {n, s.channels, s.height, s.width}, torch::kUInt8);
    x = (bytes.to(torch::kFloat) / 127.5 - 1.0).to(torch::Device(ctx.device));
    y = torch::from_blob(const_cast<int64_t*>(s.labels.data()), {n}, torch::kLong).clone().to(torch::Device(ctx.device));
  };
  CnnData out;
  to_tensors(d.train, r.train_examples, out.train_x, out.train_y);
  to_tensors(d.test, r.test_examples, out.test_x, out.test_y);
  return out;
}

namespace detail {

RunState run_state(const CnnRun& run, int64_t n_train, int64_t batch_size) {
  RunState s;
  const int64_t m = cnn_subset_size(run.train_fraction, n_train);
  s.subset.resize(static_cast<std::size_t>(n_train));
  std::iota(s.subset.begin(), s.subset.end(), 0);
  std::mt19937_64 rng(mix_seed(run.seed ^ 0x73756273ull));
  std::shuffle(s.subset.begin(), s.subset.end(), rng);
  s.subset.resize(static_cast<std::size_t>(m));
  s.steps_per_epoch = (m + batch_size - 1) / batch_size;
  return s;
}

std::vector<int64_t> epoch_order(const CnnRun& run, const RunState& s, int64_t epoch) {
  std::vector<int64_t> o = s.subset;
  std::mt19937_64 rng(mix_seed(run.seed ^ mix_seed(static_cast<uint64_t>(epoch))));
  std::shuffle(o.begin(), o.end(), rng);
  return o;
}

torch::Tensor l2_mask(const zoo::ArchitectureSpec& spec, const torch::TensorOptions& o) {
  auto mask = torch::zeros({1, spec.num_params()}, o);
  for (const auto& layer : spec.layers)
    for (const auto& t : layer.tensors)
      if (t.role == "weight" && layer.kind != zoo::LayerKind::norm) mask.narrow(1, t.offset, t.numel()).fill_(1.0);
  return mask;
}

torch::Tensor training_loss(const BatchedNets& nets, const torch::Tensor& xb, const torch::Tensor& yb,
                            const torch::Tensor& l2_mask, const torch::Tensor& l2) {
  const auto logits = batched_forward(nets, xb);
  const auto ce = -torch::log_softmax(logits, -1).gather(2, yb.unsqueeze(2)).squeeze(2).mean(1);  // (N)
  const auto reg = (nets.params.pow(2) * l2_mask).sum(1);
  return (ce + l2.view({-1}) * reg).sum();
}

std::pair<torch::Tensor, torch::Tensor> evaluate(const zoo::ArchitectureSpec& spec, const torch::Tensor& params,
                                                 const std::vector<int>& act, const torch::Tensor& x,
                                                 const torch::Tensor& y, const torch::Tensor& idx, int64_t slice,
                                                 const std::string& mode, const torch::Tensor& count) {
  torch::NoGradGuard ng;
  const int64_t n = idx.size(0), e = idx.size(1);
  auto loss = torch::zeros({n}, params.options()), correct = torch::zeros({n}, params.options());
  BatchedNets nets{&spec, params, act, {}, false, {}, mode};
  for (int64_t s = 0; s < e; s += slice) {
    const int64_t len = std::min(slice, e - s);
    const auto part = idx.narrow(1, s, len);
    const auto flat = part.reshape({-1});
    const auto xb = x.index_select(0, flat).view({n, len, x.size(1), x.size(2), x.size(3)});
    const auto yb = y.index_select(0, flat).view({n, len});
    const auto logits = batched_forward(nets, xb);
    const auto lp = torch::log_softmax(logits, -1);
    auto l = -lp.gather(2, yb.unsqueeze(2)).squeeze(2);            // (N, len)
    auto c = (logits.argmax(-1) == yb).to(params.dtype());         // (N, len)
    if (count.defined()) {
      const auto pos = torch::arange(s, s + len, count.options()).unsqueeze(0);
      const auto in = (pos < count.unsqueeze(1)).to(params.dtype());
      l = l * in;
      c = c * in;
    }
    loss += l.sum(1);
    correct += c.sum(1);
  }
  if (!count.defined()) return {loss / static_cast<double>(e), correct / static_cast<double>(e)};
  const auto k = count.to(params.dtype());
  return {loss / k, correct / k};
}


Optimisers::Optimisers(const std::vector<CnnRun>& runs, int64_t num_params, const torch::TensorOptions& o) {
  const auto n = static_cast<int64_t>(runs.size());
  std::vector<float> lr, l2, kind;
  for (const CnnRun& run : runs) {
    lr.push_back(static_cast<float>(run.lr));
    l2.push_back(static_cast<float>(run.l2));
    kind.push_back(run.optimizer == "sgd" ? 0.f : run.optimizer == "adam" ? 1.f : 2.f);
  }
  const auto col = [&](std::vector<float>& v) { return torch::from_blob(v.data(), {n, 1}, torch::kFloat).clone().to(o.device()); };
  lr_ = col(lr);
  l2_ = col(l2);
  const auto k = col(kind);
  is_sgd_ = (k == 0).to(torch::kFloat), is_adam_ = (k == 1).to(torch::kFloat), is_rms_ = (k == 2).to(torch::kFloat);
  m1_ = torch::zeros({n, num_params}, o), m2_ = torch::zeros({n, num_params}, o), t_ = torch::zeros({n, 1}, o);
  alive_ = torch::ones({n, 1}, o);
}

std::vector<int64_t> Optimisers::step(torch::Tensor& params, const torch::Tensor& g, const torch::Tensor& active) {
  torch::NoGradGuard ng;
  const double beta1 = 0.9, beta2 = 0.999, rho = 0.9, eps = 1e-7;
  const auto on = active > 0;
  t_ = t_ + active;
  const auto m1n = torch::where(on, beta1 * m1_ + (1 - beta1) * g, m1_);
  const auto m2_adam = torch::where(on, beta2 * m2_ + (1 - beta2) * g * g, m2_);
  const auto m2_rms = torch::where(on, rho * m2_ + (1 - rho) * g * g, m2_);
  const auto bc1 = 1 - torch::pow(beta1, torch::clamp_min(t_, 1)), bc2 = 1 - torch::pow(beta2, torch::clamp_min(t_, 1));
  const auto step_adam = (m1n / bc1) / (torch::sqrt(m2_adam / bc2) + eps);
  const auto step_rms = g / (torch::sqrt(m2_rms) + eps);
  const auto update = lr_ * (is_sgd_ * g + is_adam_ * step_adam + is_rms_ * step_rms) * active;
  m1_ = is_adam_ * m1n;
  m2_ = is_adam_ * m2_adam + is_rms_ * m2_rms;
  auto next = params - update;
  const auto finite = torch::isfinite(next).all(1, true);
  const auto newly = (~finite) & (alive_ > 0);
  std::vector<int64_t> diverged;
  if (newly.any().item<bool>()) {
    const auto bad = newly.to(torch::kCPU);
    for (int64_t k = 0; k < bad.size(0); ++k)
      if (bad[k][0].item<bool>()) diverged.push_back(k);
    alive_ = alive_ * finite.to(torch::kFloat);
  }
  params = torch::where(finite, next, params);
  return diverged;
}

}  // namespace detail

int64_t cnn_subset_size(double fraction, int64_t n_train) {
  return std::max<int64_t>(1, std::llround(fraction * static_cast<double>(n_train)));
}

int64_t cnn_batch_steps(const std::vector<CnnRun>& runs, int64_t n_train, int64_t batch_size) {
  int64_t steps = 1;
  for (const CnnRun& run : runs)
    steps = std::max(steps, (cnn_subset_size(run.train_fraction, n_train) + batch_size - 1) / batch_size);
  return steps;
}

namespace detail {

// All runs as one batched computation (grouped convolutions, batched products): the GPU's way. The dropout
// masks of the batch come from one generator, so a run with dropout depends on its batch-mates.
std::vector<CnnResult> train_batched(const zoo::ArchitectureSpec& spec, const CnnRecipe& r, const CnnChoices& c,
                                     const std::vector<CnnRun>& runs, const CnnData& data, const Context& ctx,
                                     const std::atomic<bool>* stop, const std::function<void(int64_t)>& on_epoch,
                                     const std::string& mode, const std::function<void()>& on_step) {
  const auto n = static_cast<int64_t>(runs.size());
  const int64_t P = spec.num_params(), B = r.batch_size, n_train = data.train_x.size(0);
  const auto dev = torch::Device(ctx.device);
  const auto fopt = torch::TensorOptions().dtype(torch::kFloat).device(dev);

  std::vector<RunState> st;
  std::vector<float> init(static_cast<std::size_t>(n * P)), drop;
  std::vector<int> act;
  int64_t steps = 1;
  for (int64_t k = 0; k < n; ++k) {
    const CnnRun& run = runs[static_cast<std::size_t>(k)];
    const auto p = init_cnn_params(spec, run);
    std::copy(p.begin(), p.end(), init.begin() + k * P);
    st.push_back(run_state(run, n_train, B));
    steps = std::max(steps, st.back().steps_per_epoch);
    act.push_back(run.activation);
    drop.push_back(static_cast<float>(run.dropout));
  }
  auto params = torch::from_blob(init.data(), {n, P}, torch::kFloat).clone().to(dev);
  const auto drop_t = torch::from_blob(drop.data(), {n}, torch::kFloat).clone().to(dev);
  const auto mask = l2_mask(spec, fopt);
  Optimisers opt(runs, P, fopt);
  std::vector<CnnResult> results(static_cast<std::size_t>(n));
  for (int64_t k = 0; k < n; ++k) results[static_cast<std::size_t>(k)].run = runs[static_cast<std::size_t>(k)];

  // Evaluation index sets: the same test images for all, each network's own training images.
  const int64_t n_test = data.test_x.size(0);
  const auto test_idx = torch::arange(n_test, torch::TensorOptions().dtype(torch::kLong).device(dev)).unsqueeze(0).expand({n, n_test});
  // Each network's training accuracy and loss on the first min(train_eval_examples, its subset) of its own
  // images, whatever its batch-mates' subsets (the rows are padded to the longest and the padding not counted).
  int64_t e_train = 1;
  std::vector<int64_t> e_count(static_cast<std::size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    e_count[static_cast<std::size_t>(k)] =
        std::min<int64_t>(r.train_eval_examples, static_cast<int64_t>(st[static_cast<std::size_t>(k)].subset.size()));
    e_train = std::max(e_train, e_count[static_cast<std::size_t>(k)]);
  }
  std::vector<int64_t> train_eval(static_cast<std::size_t>(n * e_train));
  for (int64_t k = 0; k < n; ++k) {
    const auto& sub = st[static_cast<std::size_t>(k)].subset;
    for (int64_t j = 0; j < e_train; ++j)
      train_eval[static_cast<std::size_t>(k * e_train + j)] =
          sub[static_cast<std::size_t>(std::min(j, e_count[static_cast<std::size_t>(k)] - 1))];
  }
  const auto train_idx = torch::from_blob(train_eval.data(), {n, e_train}, torch::kLong).clone().to(dev);
  const auto train_count = torch::from_blob(e_count.data(), {n}, torch::kLong).clone().to(dev);
  const int64_t eval_slice = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, n));

  auto checkpoint = [&](int64_t epoch) {
    const auto [te_loss, te_acc] = evaluate(spec, params, act, data.test_x, data.test_y, test_idx, eval_slice, mode);
    const auto [tr_loss, tr_acc] =
        evaluate(spec, params, act, data.train_x, data.train_y, train_idx, eval_slice, mode, train_count);
    const auto cpu = params.to(torch::kCPU).contiguous();
    const auto a = te_acc.to(torch::kCPU).to(torch::kDouble), l = te_loss.to(torch::kCPU).to(torch::kDouble),
               ta = tr_acc.to(torch::kCPU).to(torch::kDouble), tl = tr_loss.to(torch::kCPU).to(torch::kDouble);
    for (int64_t k = 0; k < n; ++k) {
      CnnCheckpoint cp;
      cp.epoch = epoch;
      cp.test_accuracy = a[k].item<double>();
      cp.test_loss = l[k].item<double>();
      cp.train_accuracy = ta[k].item<double>();
      cp.train_loss = tl[k].item<double>();
      const float* row = cpu.data_ptr<float>() + k * P;
      cp.params.assign(row, row + P);
      results[static_cast<std::size_t>(k)].checkpoints.push_back(std::move(cp));
    }
  };
  const auto& stored = c.checkpoint_epochs;
  if (std::binary_search(stored.begin(), stored.end(), int64_t{0})) checkpoint(0);

  torch::Generator gen = at::detail::createCPUGenerator(mix_seed(runs.front().seed ^ 0x64726f70ull));
  if (ctx.device != "cpu") gen = {};  // dropout masks then come from the device's default generator
  std::vector<std::vector<int64_t>> order(static_cast<std::size_t>(n));
  std::vector<int64_t> batch_idx(static_cast<std::size_t>(n * B));
  std::vector<float> active_v(static_cast<std::size_t>(n));
  std::vector<uint8_t> alive_v(static_cast<std::size_t>(n), 1);  // the host's copy of the optimisers' `alive`
  for (int64_t epoch = 1; epoch <= r.epochs; ++epoch) {
    for (int64_t k = 0; k < n; ++k)
      order[static_cast<std::size_t>(k)] = epoch_order(runs[static_cast<std::size_t>(k)], st[static_cast<std::size_t>(k)], epoch);
    for (int64_t s = 0; s < steps; ++s) {
      if (stop && stop->load()) return {};
      // Only the runs that train in this step are computed: a run whose subset is done for this epoch (or that
      // diverged) would cost as much as a live one and contribute nothing. Its gradient is zero and its update
      // and optimiser state are masked.
      std::vector<int64_t> live;
      batch_idx.clear();
      for (int64_t k = 0; k < n; ++k) {
        const auto& o = order[static_cast<std::size_t>(k)];
        const auto m = static_cast<int64_t>(o.size());
        const bool on = s < st[static_cast<std::size_t>(k)].steps_per_epoch && alive_v[static_cast<std::size_t>(k)];
        active_v[static_cast<std::size_t>(k)] = on ? 1.f : 0.f;
        if (!on) continue;
        live.push_back(k);
        for (int64_t j = 0; j < B; ++j) batch_idx.push_back(o[static_cast<std::size_t>((s * B + j) % m)]);
      }
      const auto active = torch::from_blob(active_v.data(), {n, 1}, torch::kFloat).to(dev);
      torch::Tensor g = torch::zeros({n, P}, fopt);
      if (!live.empty()) {
        const auto nl = static_cast<int64_t>(live.size());
        const auto idx = torch::from_blob(batch_idx.data(), {nl * B}, torch::kLong).to(dev);
        const auto xb = data.train_x.index_select(0, idx).view({nl, B, data.train_x.size(1), data.train_x.size(2), data.train_x.size(3)});
        const auto yb = data.train_y.index_select(0, idx).view({nl, B});
        const bool all_live = nl == n;
        const auto rows = all_live ? torch::Tensor() : torch::from_blob(live.data(), {nl}, torch::kLong).to(dev);
        const auto pick = [&](const torch::Tensor& t) { return all_live ? t : t.index_select(0, rows); };
        std::vector<int> act_live;
        for (int64_t k : live) act_live.push_back(act[static_cast<std::size_t>(k)]);
        auto w = pick(params).detach().requires_grad_(true);
        BatchedNets nets{&spec, w, act_live, pick(drop_t), true, gen, mode};
        const auto loss = training_loss(nets, xb, yb, mask, pick(opt.l2()));
        const auto gl = torch::autograd::grad({loss}, {w})[0];
        if (all_live) g = gl;
        else g.index_copy_(0, rows, gl);
      }
      for (int64_t k : opt.step(params, g, active)) {
        results[static_cast<std::size_t>(k)].diverged_epoch = epoch;
        alive_v[static_cast<std::size_t>(k)] = 0;
      }
      if (on_step) on_step();
    }
    if (std::binary_search(stored.begin(), stored.end(), epoch)) checkpoint(epoch);
    if (on_epoch) on_epoch(epoch);
  }
  return results;
}

}  // namespace detail

std::vector<CnnResult> train_cnn_runs(const zoo::ArchitectureSpec& spec, const CnnRecipe& r, const CnnChoices& c,
                                      const std::vector<CnnRun>& runs, const CnnData& data, const Context& ctx,
                                      const std::atomic<bool>* stop, const std::function<void(int64_t)>& on_epoch,
                                      const std::string& mode, const std::function<void()>& on_step) {
  if (mode != "auto" && mode != "grouped" && mode != "per_network")
    throw std::invalid_argument("train_cnn_runs: unknown mode '" + mode + "'");
  if (ctx.device == "cpu" && mode != "grouped")
    return detail::train_threaded(spec, r, c, runs, data, ctx, stop, on_epoch, on_step);
  return detail::train_batched(spec, r, c, runs, data, ctx, stop, on_epoch, mode, on_step);
}

}  // namespace sne::generators
