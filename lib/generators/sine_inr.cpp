#include "generators/sine_inr.h"

#include <ATen/ATen.h>

#include <ATen/Parallel.h>

#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/strings.h"
#include "generators/siren_kernel.h"

namespace sne::generators {
namespace {

constexpr double kPi = 3.14159265358979323846;

// SplitMix64: a small, portable generator, so the same seed gives the same zoo on every platform and LibTorch.
struct SplitMix {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
};

// Views of the flat parameter rows [B, P] as the SIREN's tensors.
struct SirenViews {
  at::Tensor w0, b0, w1, b1, w2, b2;  // [B,h] [B,h] [B,h,h] [B,h] [B,h] [B]
  SirenViews(const at::Tensor& flat, int64_t h) {
    int64_t o = 0;
    const auto take = [&](int64_t n) {
      at::Tensor t = flat.narrow(1, o, n);
      o += n;
      return t;
    };
    w0 = take(h);
    b0 = take(h);
    w1 = take(h * h).view({flat.size(0), h, h});
    b1 = take(h);
    w2 = take(h);
    b2 = take(1).view({flat.size(0)});
  }
};

}  // namespace

uint64_t sine_inr_seed(int64_t seed, int64_t index) {
  SplitMix s{static_cast<uint64_t>(seed) * 0x100000001B3ull ^ static_cast<uint64_t>(index)};
  s.next();
  return s.next();
}

void check_sine_recipe(const SineRecipe& r) {
  if (!(r.freq_min < r.freq_max))
    throw ConfigError("generate.sine.freq_min (" + format_number(r.freq_min) +
                      ") must be below generate.sine.freq_max (" + format_number(r.freq_max) + ")");
}

Json sine_recipe_json(const SineRecipe& r, int64_t seed) {
  Json j = Json::object();
  j.set("count", static_cast<long long>(r.count));
  j.set("seed", static_cast<long long>(seed));
  j.set("signal", "amplitude * sin(frequency * x), x = -pi + k * 2pi/points, k = 0..points-1");
  j.set("freq_min", r.freq_min);
  j.set("freq_max", r.freq_max);
  j.set("amplitude", r.amplitude);
  j.set("points", static_cast<long long>(r.points));
  j.set("hidden", static_cast<long long>(r.hidden));
  j.set("w0", r.w0);
  j.set("output_offset", r.output_offset);
  j.set("init", "sine layers: W ~ U(+-sqrt(6/fan_in)/w0), b = 0; last layer: U(+-1/sqrt(hidden)) for W and b");
  j.set("optimizer", "adam(beta1=0.9, beta2=0.999, eps=1e-8), weight decay added to the gradient");
  j.set("lr", r.lr);
  j.set("weight_decay", r.weight_decay);
  j.set("max_steps", static_cast<long long>(r.max_steps));
  j.set("target_loss", r.target_loss);
  j.set("test_count", static_cast<long long>(r.test_count));
  j.set("validation_count", static_cast<long long>(r.validation_count));
  j.set("rng", "splitmix64 per INR; frequency drawn first, then l0.weight, l1.weight, l2.weight, l2.bias");
  return j;
}

zoo::ArchitectureSpec siren_architecture(const SineRecipe& r) {
  const int64_t h = r.hidden;
  zoo::ArchitectureSpec a;
  a.name = "siren_1_" + std::to_string(h) + "_" + std::to_string(h) + "_1";
  a.attributes.set("w0", r.w0);
  a.attributes.set("output_offset", r.output_offset);
  a.attributes.set("input", "x in [-pi, pi)");
  Json sine = Json::object();
  sine.set("activation", "sine");
  sine.set("w0", r.w0);
  a.layers.push_back({"l0", zoo::LayerKind::linear, 0, {{"l0.weight", "weight", {h, 1}}, {"l0.bias", "bias", {h}}}, sine});
  a.layers.push_back({"l1", zoo::LayerKind::linear, 1, {{"l1.weight", "weight", {h, h}}, {"l1.bias", "bias", {h}}}, sine});
  a.layers.push_back({"l2", zoo::LayerKind::linear, 2, {{"l2.weight", "weight", {1, h}}, {"l2.bias", "bias", {1}}},
                      Json::object()});
  a.symmetries.push_back({"l0.units", "permutation", h, {{"l0.weight", 0}, {"l0.bias", 0}, {"l1.weight", 1}}});
  a.symmetries.push_back({"l1.units", "permutation", h, {{"l1.weight", 0}, {"l1.bias", 0}, {"l2.weight", 1}}});
  a.assign_offsets();
  return a;
}

SineInit sine_init(const SineRecipe& r, uint64_t inr_seed) {
  const int64_t h = r.hidden;
  SplitMix rng{inr_seed};
  SineInit out;
  out.frequency = rng.uniform(r.freq_min, r.freq_max);
  out.params.assign(static_cast<std::size_t>(h + h + h * h + h + h + 1), 0.0f);
  float* p = out.params.data();
  const double bound0 = std::sqrt(6.0 / 1.0) / r.w0;
  const double bound1 = std::sqrt(6.0 / static_cast<double>(h)) / r.w0;
  const double bound2 = 1.0 / std::sqrt(static_cast<double>(h));
  for (int64_t i = 0; i < h; ++i) p[i] = static_cast<float>(rng.uniform(-bound0, bound0));   // l0.weight
  float* w1 = p + 2 * h;                                                                       // l0.bias stays 0
  for (int64_t i = 0; i < h * h; ++i) w1[i] = static_cast<float>(rng.uniform(-bound1, bound1));
  float* w2 = w1 + h * h + h;                                                                  // l1.bias stays 0
  for (int64_t i = 0; i < h; ++i) w2[i] = static_cast<float>(rng.uniform(-bound2, bound2));
  w2[h] = static_cast<float>(rng.uniform(-bound2, bound2));                                    // l2.bias
  return out;
}

double siren_forward(const SineRecipe& r, const float* p, double x) {
  const int64_t h = r.hidden;
  const float* w0 = p;
  const float* b0 = w0 + h;
  const float* w1 = b0 + h;
  const float* b1 = w1 + h * h;
  const float* w2 = b1 + h;
  const float b2 = w2[h];
  std::vector<double> h0(static_cast<std::size_t>(h));
  for (int64_t j = 0; j < h; ++j) h0[static_cast<std::size_t>(j)] = std::sin(r.w0 * (w0[j] * x + b0[j]));
  double out = b2 + r.output_offset;
  for (int64_t j = 0; j < h; ++j) {
    double a = b1[j];
    for (int64_t k = 0; k < h; ++k) a += w1[j * h + k] * h0[static_cast<std::size_t>(k)];
    out += w2[j] * std::sin(r.w0 * a);
  }
  return out;
}

void train_sines(const SineRecipe& r, int64_t seed, const std::vector<int64_t>& inrs, const Context& ctx,
                 const std::function<void(SineResult&&)>& on_done, const std::atomic<bool>* stop,
                 const std::function<void(int64_t)>& on_step) {
  if (inrs.empty()) return;
  const int64_t h = r.hidden;
  const int64_t np = h + h + h * h + h + h + 1;
  const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  const auto opts = at::TensorOptions().dtype(at::kFloat).device(ctx.device == "cuda" ? at::kCUDA : at::kCPU);
  const int64_t n_points = r.points;
  const at::Tensor x = (at::arange(n_points, opts.dtype(at::kDouble)) * (2.0 * kPi / static_cast<double>(n_points)) - kPi)
                           .to(at::kFloat);

  int64_t slots = std::min<int64_t>(r.batch, static_cast<int64_t>(inrs.size()));
  at::Tensor params = at::zeros({slots, np}, opts), m = at::zeros_like(params), v = at::zeros_like(params);
  at::Tensor target = at::zeros({slots, n_points}, opts);
  std::vector<int64_t> slot_inr(static_cast<std::size_t>(slots), 0), slot_steps(static_cast<std::size_t>(slots), 0);
  std::vector<double> slot_freq(static_cast<std::size_t>(slots), 0.0);
  std::size_t next_inr = 0;

  const auto fill = [&](int64_t s) {
    const int64_t inr = inrs[next_inr++];
    SineInit init = sine_init(r, sine_inr_seed(seed, inr));
    params[s].copy_(at::from_blob(init.params.data(), {np}, at::kFloat));
    m[s].zero_();
    v[s].zero_();
    target[s].copy_(at::sin(x * init.frequency) * r.amplitude);
    slot_inr[static_cast<std::size_t>(s)] = inr;
    slot_steps[static_cast<std::size_t>(s)] = 0;
    slot_freq[static_cast<std::size_t>(s)] = init.frequency;
  };
  for (int64_t s = 0; s < slots; ++s) fill(s);

  // On the CPU every INR's step is the hand-written kernel (siren_kernel.h), one INR per thread at a time: the
  // threads share nothing and meet once per step, and an INR's result depends on nothing but its own data.
  // On a GPU the slots train as one batched LibTorch computation (below).
  const bool on_cpu = ctx.device != "cuda";
  const kernels::SirenShape shape{h, n_points, static_cast<float>(r.w0), static_cast<float>(r.output_offset)};
  const std::vector<float> xs(x.data_ptr<float>(), x.data_ptr<float>() + n_points);
  // Inputs and hidden activations carry a trailing column of ones, so each layer's bias rides in its matmul
  // (forward and gradient) instead of costing separate broadcast and reduction passes over [B, P, h].
  const at::Tensor x1 = at::stack({x, at::ones_like(x)}, 1).unsqueeze(0);  // [1,P,2]
  at::Tensor h0a, h1a;                 // the GPU path's [slots,P,h+1] activations with their ones column
  at::Tensor snapshot;                 // [slots, np]: the weights finished INRs leave with
  std::vector<double> loss;            // [slots]
  std::vector<uint8_t> is_done;        // [slots]
  const auto layout = [&] {
    if (!on_cpu) {
      h0a = at::empty({slots, n_points, h + 1}, opts);
      h1a = at::empty({slots, n_points, h + 1}, opts);
      h0a.select(2, h).fill_(1);
      h1a.select(2, h).fill_(1);
    }
    snapshot = at::empty({slots, np}, opts);
    loss.assign(static_cast<std::size_t>(slots), 0.0);
    is_done.assign(static_cast<std::size_t>(slots), 0);
  };
  layout();

  // One optimisation step of every slot on the CPU: loss and gradient, (finished: snapshot), Adam.
  const auto step_cpu = [&](const std::vector<float>& step_size, const std::vector<float>& sqrt_bc2) {
    float *P = params.data_ptr<float>(), *M = m.data_ptr<float>(), *V = v.data_ptr<float>();
    const float* T = target.data_ptr<float>();
    float* S = snapshot.data_ptr<float>();
    at::parallel_for(0, slots, 1, [&](int64_t s0, int64_t s1) {
      thread_local std::vector<float> work, grad;
      work.resize(kernels::siren_workspace_floats(shape));
      grad.resize(static_cast<std::size_t>(np));
      for (int64_t sl = s0; sl < s1; ++sl) {
        const auto us = static_cast<std::size_t>(sl);
        float* p = P + sl * np;
        loss[us] = kernels::siren_loss_and_grad(shape, xs.data(), T + sl * n_points, p, grad.data(), work.data());
        is_done[us] = loss[us] <= r.target_loss || slot_steps[us] >= r.max_steps;
        if (is_done[us]) std::copy(p, p + np, S + sl * np);  // finished INRs leave with these weights
        kernels::adam_update(np, p, grad.data(), M + sl * np, V + sl * np, step_size[us], sqrt_bc2[us],
                             static_cast<float>(beta1), static_cast<float>(beta2), static_cast<float>(eps),
                             static_cast<float>(r.weight_decay));
      }
    });
  };

  // One optimisation step of all slots on a GPU: forward, loss, (finished: snapshot),
  // backward, Adam.
  const auto step_gpu = [&](const at::Tensor& step_size, const at::Tensor& sqrt_bc2) {
    const int64_t n = slots;
    at::Tensor &P = params, &M = m, &V = v;
    SirenViews p(P, h);
    // Forward. w0 is folded into the (small) weights instead of scaling the (large) activations.
    const at::Tensor xb = x1.expand({n, n_points, 2});
    const at::Tensor w1s = p.w1 * r.w0;
    const at::Tensor A0 = at::stack({p.w0, p.b0}, 1).mul_(r.w0);                                  // [n,2,h]
    const at::Tensor A1 = at::cat({w1s.transpose(1, 2), (p.b1 * r.w0).unsqueeze(1)}, 1);       // [n,h+1,h]
    const at::Tensor A2 = at::cat({p.w2, p.b2.unsqueeze(1) + r.output_offset}, 1).unsqueeze(2);  // [n,h+1,1]
    at::Tensor a0 = at::bmm(xb, A0);                                                             // [n,P,h]
    at::Tensor h0 = h0a.narrow(2, 0, h);
    at::sin_out(h0, a0);
    at::Tensor a1 = at::bmm(h0a, A1);                                                        // [n,P,h]
    at::Tensor h1 = h1a.narrow(2, 0, h);
    at::sin_out(h1, a1);
    const at::Tensor resid = at::bmm(h1a, A2).squeeze(2) - target;   // [n,P]
    const at::Tensor l = resid.square().mean(1).to(at::kDouble).cpu();
    for (int64_t k = 0; k < n; ++k) {
      const auto s = static_cast<std::size_t>(k);
      loss[s] = l.data_ptr<double>()[k];
      is_done[s] = loss[s] <= r.target_loss || slot_steps[s] >= r.max_steps;
      if (is_done[s]) snapshot[static_cast<int64_t>(s)].copy_(P[k]);  // finished INRs leave with these weights
    }

    // Backward of mean((out - target)^2) per INR, by hand (no autograd: fewer passes over [n,P,h]).
    const at::Tensor g_out = resid * (2.0 / static_cast<double>(n_points));                      // [n,P]
    at::Tensor grad = at::empty_like(P);
    SirenViews g(grad, h);
    const at::Tensor G2 = at::bmm(g_out.unsqueeze(1), h1a).squeeze(1);                     // [n,h+1]
    g.w2.copy_(G2.narrow(1, 0, h));
    g.b2.copy_(G2.select(1, h));
    at::Tensor g_a1 = at::bmm(g_out.unsqueeze(2), p.w2.unsqueeze(1)).mul_(a1.cos_());           // [n,P,h]
    const at::Tensor G1 = at::bmm(g_a1.transpose(1, 2), h0a).mul_(r.w0);                    // [n,h,h+1]
    g.w1.copy_(G1.narrow(2, 0, h));
    g.b1.copy_(G1.select(2, h));
    at::Tensor g_a0 = at::bmm(g_a1, w1s).mul_(a0.cos_());                                        // [n,P,h]
    const at::Tensor G0 = at::bmm(g_a0.transpose(1, 2), xb).mul_(r.w0);                         // [n,h,2]
    g.w0.copy_(G0.select(2, 0));
    g.b0.copy_(G0.select(2, 1));

    // Adam, as torch.optim.Adam with L2 weight decay, with a step count per INR.
    if (r.weight_decay != 0) grad.add_(P, r.weight_decay);
    M.mul_(beta1).add_(grad, 1 - beta1);
    V.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
    const at::Tensor denom = (V.sqrt() / sqrt_bc2).add_(eps);
    P.addcdiv_(M * step_size, denom, -1.0);
  };

  while (slots > 0) {
    if (stop && stop->load()) return;
    std::vector<float> bc1(static_cast<std::size_t>(slots)), bc2(static_cast<std::size_t>(slots));
    for (int64_t s = 0; s < slots; ++s) {
      const auto t = static_cast<double>(slot_steps[static_cast<std::size_t>(s)] + 1);
      bc1[static_cast<std::size_t>(s)] = static_cast<float>(r.lr / (1.0 - std::pow(beta1, t)));
      bc2[static_cast<std::size_t>(s)] = static_cast<float>(std::sqrt(1.0 - std::pow(beta2, t)));
    }
    if (on_cpu) {
      step_cpu(bc1, bc2);
    } else {
      const at::Tensor step_size = at::from_blob(bc1.data(), {slots, 1}, at::kFloat).to(params.device());
      const at::Tensor sqrt_bc2 = at::from_blob(bc2.data(), {slots, 1}, at::kFloat).to(params.device());
      step_gpu(step_size, sqrt_bc2);
    }
    for (auto& t : slot_steps) ++t;

    std::vector<int64_t> finished;
    for (int64_t s = 0; s < slots; ++s)
      if (is_done[static_cast<std::size_t>(s)]) finished.push_back(s);
    if (!finished.empty()) {
      const at::Tensor host = snapshot.cpu().contiguous();
      for (int64_t s : finished) {
        const auto us = static_cast<std::size_t>(s);
        SineResult res;
        res.inr = slot_inr[us];
        res.frequency = slot_freq[us];
        res.final_loss = loss[us];
        res.steps = slot_steps[us] - 1;  // the update after the final check does not count
        const float* row = host.data_ptr<float>() + s * np;
        res.params.assign(row, row + np);
        on_done(std::move(res));
      }
    }

    // Finished slots take the next INR (after the update, which overwrote nothing they need) or close.
    std::vector<int64_t> alive;
    std::size_t f = 0;
    for (int64_t s = 0; s < slots; ++s) {
      const bool done = f < finished.size() && finished[f] == s;
      if (done) ++f;
      if (done && next_inr >= inrs.size()) continue;
      if (done) fill(s);
      alive.push_back(s);
    }
    if (static_cast<int64_t>(alive.size()) < slots) {
      const at::Tensor idx = at::tensor(alive, at::kLong).to(params.device());
      params = params.index_select(0, idx);
      m = m.index_select(0, idx);
      v = v.index_select(0, idx);
      target = target.index_select(0, idx);
      std::vector<int64_t> inr2, steps2;
      std::vector<double> freq2;
      for (int64_t s : alive) {
        inr2.push_back(slot_inr[static_cast<std::size_t>(s)]);
        steps2.push_back(slot_steps[static_cast<std::size_t>(s)]);
        freq2.push_back(slot_freq[static_cast<std::size_t>(s)]);
      }
      slot_inr = std::move(inr2), slot_steps = std::move(steps2), slot_freq = std::move(freq2);
      slots = static_cast<int64_t>(alive.size());
      layout();
    }
    if (on_step) on_step(slots);
  }
}

}  // namespace sne::generators
