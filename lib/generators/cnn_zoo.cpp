#include "generators/cnn_zoo.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>
#include <random>
#include <sstream>

#include "core/error.h"
#include "core/strings.h"
#include "core/version.h"
#include "generators/recipe.h"
#include "zoo/zoo_file.h"
#include "zoo/zoo_writer.h"

namespace sne::generators {
namespace {

constexpr const char* kGeneratorName = "cnn";

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::vector<std::string> checked_names(const std::string& key, const std::string& text,
                                       const std::vector<std::string>& known) {
  auto names = split_list(text);
  if (names.empty()) throw ConfigError(key + ": empty list (expected some of: " + join(known) + ")");
  for (const auto& n : names)
    if (std::find(known.begin(), known.end(), n) == known.end())
      throw ConfigError(key + ": unknown entry '" + n + "' (known: " + join(known) + ")");
  return names;
}

double parse_number(const std::string& key, const std::string& text) {
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  throw ConfigError(key + ": '" + text + "' is not a number");
}

uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

double log_uniform(std::mt19937_64& rng, double lo, double hi) {
  std::uniform_real_distribution<double> u(std::log(lo), std::log(hi));
  return std::exp(u(rng));
}

template <class T>
const T& pick(std::mt19937_64& rng, const std::vector<T>& v) {
  return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
}

}  // namespace

CnnChoices parse_cnn_choices(const CnnRecipe& r) {
  CnnChoices c;
  for (const auto& a : checked_names("generate.cnn.activations", r.activations, activation_names()))
    c.activations.push_back(static_cast<int>(std::find(activation_names().begin(), activation_names().end(), a) -
                                             activation_names().begin()));
  c.optimizers = checked_names("generate.cnn.optimizers", r.optimizers, {"sgd", "adam", "rmsprop"});
  c.inits = checked_names("generate.cnn.inits", r.inits, {"normal", "truncated_normal", "glorot_uniform", "he_normal"});
  for (const auto& f : split_list(r.train_fractions)) {
    const double v = parse_number("generate.cnn.train_fractions", f);
    if (!(v > 0 && v <= 1)) throw ConfigError("generate.cnn.train_fractions: " + f + " is not in (0, 1]");
    c.train_fractions.push_back(v);
  }
  if (c.train_fractions.empty()) throw ConfigError("generate.cnn.train_fractions: empty list");
  for (const auto& e : split_list(r.checkpoint_epochs)) {
    const double v = parse_number("generate.cnn.checkpoint_epochs", e);
    if (v != std::floor(v) || v < 0 || v > static_cast<double>(r.epochs))
      throw ConfigError("generate.cnn.checkpoint_epochs: " + e + " is not a whole epoch in [0, " +
                        std::to_string(r.epochs) + "] (generate.cnn.epochs)");
    c.checkpoint_epochs.push_back(static_cast<int64_t>(v));
  }
  std::sort(c.checkpoint_epochs.begin(), c.checkpoint_epochs.end());
  c.checkpoint_epochs.erase(std::unique(c.checkpoint_epochs.begin(), c.checkpoint_epochs.end()), c.checkpoint_epochs.end());
  if (c.checkpoint_epochs.empty() || c.checkpoint_epochs.back() != r.epochs)
    throw ConfigError("generate.cnn.checkpoint_epochs must include the last epoch (" + std::to_string(r.epochs) +
                      ", generate.cnn.epochs); got '" + r.checkpoint_epochs + "'");
  if (!(r.lr_min <= r.lr_max)) throw ConfigError("generate.cnn.lr_min must be <= generate.cnn.lr_max");
  if (!(r.l2_min <= r.l2_max)) throw ConfigError("generate.cnn.l2_min must be <= generate.cnn.l2_max");
  if (!(r.init_std_min <= r.init_std_max))
    throw ConfigError("generate.cnn.init_std_min must be <= generate.cnn.init_std_max");
  if (r.test_fraction + r.validation_fraction >= 1)
    throw ConfigError("generate.cnn.test_fraction + validation_fraction must be < 1");
  return c;
}

uint64_t cnn_run_seed(int64_t seed, int64_t run) {
  return mix(mix(static_cast<uint64_t>(seed) ^ 0x636e6e7a6f6full) + static_cast<uint64_t>(run));
}

CnnRun sample_cnn_run(const CnnRecipe& r, const CnnChoices& c, int64_t seed, int64_t run) {
  CnnRun x;
  x.run = run;
  x.seed = cnn_run_seed(seed, run);
  std::mt19937_64 rng(x.seed);
  x.activation = pick(rng, c.activations);
  x.optimizer = pick(rng, c.optimizers);
  x.init = pick(rng, c.inits);
  x.lr = log_uniform(rng, r.lr_min, r.lr_max);
  x.l2 = log_uniform(rng, r.l2_min, r.l2_max);
  x.dropout = std::uniform_real_distribution<double>(0.0, r.dropout_max)(rng);
  x.init_std = log_uniform(rng, r.init_std_min, r.init_std_max);
  x.train_fraction = pick(rng, c.train_fractions);
  return x;
}

std::vector<float> init_cnn_params(const zoo::ArchitectureSpec& spec, const CnnRun& run) {
  std::vector<float> p(static_cast<std::size_t>(spec.num_params()), 0.0f);
  std::mt19937_64 rng(mix(run.seed ^ 0x696e6974ull));
  std::normal_distribution<double> normal(0.0, 1.0);
  for (const auto& layer : spec.layers)
    for (const auto& t : layer.tensors) {
      float* out = p.data() + t.offset;
      const int64_t n = t.numel();
      if (layer.kind == zoo::LayerKind::norm) {
        if (t.role == "weight") std::fill(out, out + n, 1.0f);
        continue;
      }
      if (t.role == "embedding") {
        for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(0.02 * normal(rng));
        continue;
      }
      if (t.role != "weight") continue;  // biases start at zero
      int64_t receptive = 1;
      for (std::size_t d = 2; d < t.shape.size(); ++d) receptive *= t.shape[d];
      const double fan_in = static_cast<double>(t.shape.size() > 1 ? t.shape[1] * receptive : 1);
      const double fan_out = static_cast<double>(t.shape[0] * receptive);
      for (int64_t i = 0; i < n; ++i) {
        double v;
        if (run.init == "normal") {
          v = run.init_std * normal(rng);
        } else if (run.init == "truncated_normal") {
          do v = normal(rng); while (std::abs(v) > 2.0);
          v *= run.init_std;
        } else if (run.init == "glorot_uniform") {
          const double limit = std::sqrt(6.0 / (fan_in + fan_out));
          v = std::uniform_real_distribution<double>(-limit, limit)(rng);
        } else {  // he_normal
          v = std::sqrt(2.0 / fan_in) * normal(rng);
        }
        out[i] = static_cast<float>(v);
      }
    }
  return p;
}

Json cnn_recipe_json(const CnnRecipe& r, int64_t seed) {
  Json j = Json::object();
  j.set("arch", r.arch);
  j.set("dataset", r.dataset);
  j.set("grayscale", r.grayscale);
  j.set("count", r.count);
  j.set("epochs", r.epochs);
  j.set("checkpoint_epochs", r.checkpoint_epochs);
  j.set("batch_size", r.batch_size);
  j.set("train_examples", r.train_examples);
  j.set("test_examples", r.test_examples);
  j.set("train_eval_examples", r.train_eval_examples);
  j.set("test_fraction", r.test_fraction);
  j.set("validation_fraction", r.validation_fraction);
  j.set("activations", r.activations);
  j.set("optimizers", r.optimizers);
  j.set("inits", r.inits);
  j.set("train_fractions", r.train_fractions);
  j.set("lr_min", r.lr_min);
  j.set("lr_max", r.lr_max);
  j.set("l2_min", r.l2_min);
  j.set("l2_max", r.l2_max);
  j.set("dropout_max", r.dropout_max);
  j.set("init_std_min", r.init_std_min);
  j.set("init_std_max", r.init_std_max);
  if (r.arch == "vit") {
    j.set("vit_patch", r.vit_patch);
    j.set("vit_dim", r.vit_dim);
    j.set("vit_depth", r.vit_depth);
    j.set("vit_heads", r.vit_heads);
    j.set("vit_mlp_ratio", r.vit_mlp_ratio);
  }
  j.set("seed", seed);
  j.set("input_scaling", "pixels / 127.5 - 1 (to [-1, 1])");
  j.set("loss", "cross-entropy + l2 * sum of squared weights (not biases)");
  return j;
}

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

namespace {

struct RunState {
  std::vector<int64_t> subset;  // indices into the training images
  int64_t steps_per_epoch = 1;
};

// Mean loss and accuracy of every network on its own examples: idx (N, E) indices into x/y, in slices.
std::pair<torch::Tensor, torch::Tensor> evaluate(const zoo::ArchitectureSpec& spec, const torch::Tensor& params,
                                                 const std::vector<int>& act, const torch::Tensor& x,
                                                 const torch::Tensor& y, const torch::Tensor& idx, int64_t slice,
                                                 const std::string& mode) {
  torch::NoGradGuard ng;
  const int64_t n = idx.size(0), e = idx.size(1);
  auto loss = torch::zeros({n}, params.options()), correct = torch::zeros({n}, params.options());
  BatchedNets nets{&spec, params, act, {}, false, {}, mode};
  for (int64_t s = 0; s < e; s += slice) {
    const auto part = idx.narrow(1, s, std::min(slice, e - s));
    const auto flat = part.reshape({-1});
    const auto xb = x.index_select(0, flat).view({n, part.size(1), x.size(1), x.size(2), x.size(3)});
    const auto yb = y.index_select(0, flat).view({n, part.size(1)});
    const auto logits = batched_forward(nets, xb);
    const auto lp = torch::log_softmax(logits, -1);
    loss += -lp.gather(2, yb.unsqueeze(2)).squeeze(2).sum(1);
    correct += (logits.argmax(-1) == yb).to(params.dtype()).sum(1);
  }
  return {loss / static_cast<double>(e), correct / static_cast<double>(e)};
}

}  // namespace

std::vector<CnnResult> train_cnn_runs(const zoo::ArchitectureSpec& spec, const CnnRecipe& r, const CnnChoices& c,
                                      const std::vector<CnnRun>& runs, const CnnData& data, const Context& ctx,
                                      const std::atomic<bool>* stop, const std::function<void(int64_t)>& on_epoch,
                                      const std::string& mode) {
  const auto n = static_cast<int64_t>(runs.size());
  const int64_t P = spec.num_params(), B = r.batch_size, n_train = data.train_x.size(0);
  const auto dev = torch::Device(ctx.device);
  const auto fopt = torch::TensorOptions().dtype(torch::kFloat).device(dev);

  std::vector<RunState> st(static_cast<std::size_t>(n));
  std::vector<float> init(static_cast<std::size_t>(n * P));
  std::vector<int> act(static_cast<std::size_t>(n));
  std::vector<float> lr(static_cast<std::size_t>(n)), l2(static_cast<std::size_t>(n)), drop(static_cast<std::size_t>(n)),
      opt(static_cast<std::size_t>(n));
  int64_t steps = 1;
  for (int64_t k = 0; k < n; ++k) {
    const CnnRun& run = runs[static_cast<std::size_t>(k)];
    const auto p = init_cnn_params(spec, run);
    std::copy(p.begin(), p.end(), init.begin() + k * P);
    auto& s = st[static_cast<std::size_t>(k)];
    const auto m = std::max<int64_t>(1, std::llround(run.train_fraction * static_cast<double>(n_train)));
    s.subset.resize(static_cast<std::size_t>(n_train));
    std::iota(s.subset.begin(), s.subset.end(), 0);
    std::mt19937_64 rng(mix(run.seed ^ 0x73756273ull));
    std::shuffle(s.subset.begin(), s.subset.end(), rng);
    s.subset.resize(static_cast<std::size_t>(m));
    s.steps_per_epoch = (m + B - 1) / B;
    steps = std::max(steps, s.steps_per_epoch);
    act[static_cast<std::size_t>(k)] = run.activation;
    lr[static_cast<std::size_t>(k)] = static_cast<float>(run.lr);
    l2[static_cast<std::size_t>(k)] = static_cast<float>(run.l2);
    drop[static_cast<std::size_t>(k)] = static_cast<float>(run.dropout);
    opt[static_cast<std::size_t>(k)] = run.optimizer == "sgd" ? 0.f : run.optimizer == "adam" ? 1.f : 2.f;
  }
  auto params = torch::from_blob(init.data(), {n, P}, torch::kFloat).clone().to(dev);
  const auto col = [&](std::vector<float>& v) { return torch::from_blob(v.data(), {n, 1}, torch::kFloat).clone().to(dev); };
  const auto lr_t = col(lr), l2_t = col(l2), opt_t = col(opt);
  const auto drop_t = col(drop).view({n});
  auto is_sgd = (opt_t == 0).to(torch::kFloat), is_adam = (opt_t == 1).to(torch::kFloat), is_rms = (opt_t == 2).to(torch::kFloat);
  // L2 acts on the weights (role "weight" of conv, linear and attention layers), not on biases, norms, embeddings.
  auto l2_mask = torch::zeros({1, P}, fopt);
  for (const auto& layer : spec.layers)
    for (const auto& t : layer.tensors)
      if (t.role == "weight" && layer.kind != zoo::LayerKind::norm) l2_mask.narrow(1, t.offset, t.numel()).fill_(1.0);
  auto m1 = torch::zeros({n, P}, fopt), m2 = torch::zeros({n, P}, fopt), t_adam = torch::zeros({n, 1}, fopt);
  auto alive = torch::ones({n, 1}, fopt);
  std::vector<CnnResult> results(static_cast<std::size_t>(n));
  for (int64_t k = 0; k < n; ++k) results[static_cast<std::size_t>(k)].run = runs[static_cast<std::size_t>(k)];

  // Evaluation index sets: the same test images for all, each network's own training images.
  const int64_t n_test = data.test_x.size(0);
  const auto test_idx = torch::arange(n_test, torch::TensorOptions().dtype(torch::kLong).device(dev)).unsqueeze(0).expand({n, n_test});
  int64_t e_train = r.train_eval_examples;
  for (const auto& s : st) e_train = std::min<int64_t>(e_train, static_cast<int64_t>(s.subset.size()));
  std::vector<int64_t> train_eval(static_cast<std::size_t>(n * e_train));
  for (int64_t k = 0; k < n; ++k)
    std::copy_n(st[static_cast<std::size_t>(k)].subset.begin(), e_train, train_eval.begin() + k * e_train);
  const auto train_idx = torch::from_blob(train_eval.data(), {n, e_train}, torch::kLong).clone().to(dev);
  const int64_t eval_slice = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, n));

  auto checkpoint = [&](int64_t epoch) {
    const auto [te_loss, te_acc] = evaluate(spec, params, act, data.test_x, data.test_y, test_idx, eval_slice, mode);
    const auto [tr_loss, tr_acc] = evaluate(spec, params, act, data.train_x, data.train_y, train_idx, eval_slice, mode);
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

  torch::Generator gen = at::detail::createCPUGenerator(mix(runs.front().seed ^ 0x64726f70ull));
  if (ctx.device != "cpu") gen = {};  // dropout masks then come from the device's default generator
  const double beta1 = 0.9, beta2 = 0.999, rho = 0.9, eps = 1e-7;
  std::vector<std::vector<int64_t>> order(static_cast<std::size_t>(n));
  std::vector<int64_t> batch_idx(static_cast<std::size_t>(n * B));
  std::vector<float> active_v(static_cast<std::size_t>(n));
  for (int64_t epoch = 1; epoch <= r.epochs; ++epoch) {
    for (int64_t k = 0; k < n; ++k) {
      auto& o = order[static_cast<std::size_t>(k)];
      o = st[static_cast<std::size_t>(k)].subset;
      std::mt19937_64 rng(mix(runs[static_cast<std::size_t>(k)].seed ^ mix(static_cast<uint64_t>(epoch))));
      std::shuffle(o.begin(), o.end(), rng);
    }
    for (int64_t s = 0; s < steps; ++s) {
      if (stop && stop->load()) return {};
      for (int64_t k = 0; k < n; ++k) {
        const auto& o = order[static_cast<std::size_t>(k)];
        const auto m = static_cast<int64_t>(o.size());
        active_v[static_cast<std::size_t>(k)] = s < st[static_cast<std::size_t>(k)].steps_per_epoch ? 1.f : 0.f;
        for (int64_t j = 0; j < B; ++j) batch_idx[static_cast<std::size_t>(k * B + j)] = o[static_cast<std::size_t>((s * B + j) % m)];
      }
      const auto idx = torch::from_blob(batch_idx.data(), {n * B}, torch::kLong).to(dev);
      const auto active = torch::from_blob(active_v.data(), {n, 1}, torch::kFloat).to(dev) * alive;
      const auto xb = data.train_x.index_select(0, idx).view({n, B, data.train_x.size(1), data.train_x.size(2), data.train_x.size(3)});
      const auto yb = data.train_y.index_select(0, idx).view({n, B});

      auto w = params.detach().requires_grad_(true);
      BatchedNets nets{&spec, w, act, drop_t, true, gen, mode};
      const auto logits = batched_forward(nets, xb);
      const auto ce = -torch::log_softmax(logits, -1).gather(2, yb.unsqueeze(2)).squeeze(2).mean(1);  // (N)
      const auto reg = (w.pow(2) * l2_mask).sum(1);
      const auto loss = ((ce + l2_t.view({n}) * reg) * active.view({n})).sum();
      const auto g = torch::autograd::grad({loss}, {w})[0];
      {
        torch::NoGradGuard ng;
        const auto on = active > 0;
        t_adam = t_adam + active;
        const auto m1n = torch::where(on, beta1 * m1 + (1 - beta1) * g, m1);
        const auto m2_adam = torch::where(on, beta2 * m2 + (1 - beta2) * g * g, m2);
        const auto m2_rms = torch::where(on, rho * m2 + (1 - rho) * g * g, m2);
        const auto bc1 = 1 - torch::pow(beta1, torch::clamp_min(t_adam, 1)), bc2 = 1 - torch::pow(beta2, torch::clamp_min(t_adam, 1));
        const auto step_adam = (m1n / bc1) / (torch::sqrt(m2_adam / bc2) + eps);
        const auto step_rms = g / (torch::sqrt(m2_rms) + eps);
        const auto update = lr_t * (is_sgd * g + is_adam * step_adam + is_rms * step_rms) * active;
        m1 = is_adam * m1n;
        m2 = is_adam * m2_adam + is_rms * m2_rms;
        auto next = params - update;
        // A network whose update made its weights non-finite keeps its last finite weights and stops training.
        const auto finite = torch::isfinite(next).all(1, true);
        const auto newly = (~finite) & (alive > 0);
        if (newly.any().item<bool>()) {
          const auto bad = newly.to(torch::kCPU);
          for (int64_t k = 0; k < n; ++k)
            if (bad[k][0].item<bool>()) results[static_cast<std::size_t>(k)].diverged_epoch = epoch;
          alive = alive * finite.to(torch::kFloat);
        }
        params = torch::where(finite, next, params);
      }
    }
    if (std::binary_search(stored.begin(), stored.end(), epoch)) checkpoint(epoch);
    if (on_epoch) on_epoch(epoch);
  }
  return results;
}

namespace {

Json provenance_for(const CnnRecipe& r, int64_t seed, const data::Dataset& d, const zoo::ArchitectureSpec& spec) {
  Json p = Json::object();
  p.set("kind", "generator");
  p.set("name", kGeneratorName);
  p.set("description", "image classifiers with per-network sampled hyper-parameters (Unterthiner et al. 2020 style)");
  p.set("recipe", cnn_recipe_json(r, seed));
  Json data = Json::object();
  data.set("dir", d.dir);
  data.set("train_images", d.train.count);
  data.set("test_images", d.test.count);
  data.set("image", Json(std::vector<Json>{Json(d.train.channels), Json(d.train.height), Json(d.train.width)}));
  p.set("data", data);
  p.set("architecture", spec.name);
  const CnnRecipe full = [] {
    CnnRecipe f = config::defaults().generate.cnn;
    return f;
  }();
  std::vector<std::string> reduced;
  if (r.epochs < full.epochs) reduced.push_back(std::to_string(r.epochs) + " epochs instead of " + std::to_string(full.epochs));
  if (r.train_examples > 0 && r.train_examples < d.train.count)
    reduced.push_back("the first " + std::to_string(r.train_examples) + " of " + std::to_string(d.train.count) + " training images");
  if (r.test_examples > 0 && r.test_examples < d.test.count)
    reduced.push_back("test accuracy on the first " + std::to_string(r.test_examples) + " of " + std::to_string(d.test.count) + " test images");
  p.set("reduced_recipe", reduced.empty() ? std::string("no: the full recipe") : join(reduced, "; "));
  p.set("generated_by", std::string("sne ") + kVersion);
  return p;
}


}  // namespace

CnnZooReport generate_cnn_zoo(const CnnRecipe& r, int64_t seed, const std::string& path, const Context& ctx,
                              const std::atomic<bool>* stop, const std::function<void(int64_t, int64_t)>& progress) {
  namespace fs = std::filesystem;
  const auto t0 = std::chrono::steady_clock::now();
  const CnnChoices choices = parse_cnn_choices(r);
  const data::Dataset dataset = data::load_dataset(r.dataset, r.data_dir, r.grayscale);
  const auto spec = cnn_architecture(r, dataset.train.channels, dataset.train.height, dataset.train.width, dataset.classes);
  CnnZooReport report;
  report.total_runs = r.count;
  report.architecture = spec.name;
  report.num_params = spec.num_params();
  Json provenance = provenance_for(r, seed, dataset, spec);
  const auto per_run = static_cast<int64_t>(choices.checkpoint_epochs.size());

  // Runs already in the file: every checkpoint row of a run must be there (runs are flushed whole).
  std::map<int64_t, std::map<int64_t, int64_t>> stored;  // run -> epoch -> network index
  std::unique_ptr<zoo::ZooWriter> writer;
  double seconds_before = 0;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    std::shared_ptr<zoo::ZooFile> existing;
    try {
      existing = zoo::ZooFile::open(path);
    } catch (const DataError& e) {
      throw IoError(path + ": exists and is not a readable zoo; refusing to overwrite it (" + e.what() + ")");
    }
    const std::string diff = recipe_difference(existing->provenance(), provenance, kGeneratorName);
    if (!diff.empty())
      throw IoError(path + ": exists and holds a different zoo (" + diff + "); choose another output or delete it");
    if (const Json* g = existing->provenance().find("generation_seconds")) seconds_before = g->as_number();
    if (existing->num_networks() > 0) {
      const auto run = existing->metadata("run").numbers;
      const auto step = existing->property("step");
      for (std::size_t i = 0; i < run.size(); ++i) {
        const auto k = static_cast<int64_t>(run[i]);
        if (!(k >= 0 && k < r.count) || stored[k].count(static_cast<int64_t>(step[i])))
          throw DataError(path + ": network " + std::to_string(i) + " has an invalid or repeated (run, step)");
        stored[k][static_cast<int64_t>(step[i])] = static_cast<int64_t>(i);
      }
      for (const auto& [k, steps] : stored)
        if (static_cast<int64_t>(steps.size()) != per_run)
          throw DataError(path + ": run " + std::to_string(k) + " has " + std::to_string(steps.size()) + " of its " +
                          std::to_string(per_run) + " checkpoints; the file is damaged (regenerate it)");
    }
    report.already_present = static_cast<int64_t>(stored.size());
    existing.reset();
    writer = zoo::ZooWriter::open_append(path);
  } else {
    const fs::path parent = fs::path(path).parent_path();
    if (!parent.empty() && !fs::exists(parent, ec) && !fs::create_directories(parent, ec))
      throw IoError(path + ": cannot create directory '" + parent.string() + "' (" + ec.message() + ")");
    writer = zoo::ZooWriter::create(path, provenance);
  }
  const int arch = writer->add_architecture(spec);

  // Missing runs, ordered by training fraction so a batch shares its number of steps per epoch.
  std::vector<CnnRun> missing;
  for (int64_t k = 0; k < r.count; ++k)
    if (!stored.count(k)) missing.push_back(sample_cnn_run(r, choices, seed, k));
  std::stable_sort(missing.begin(), missing.end(),
                   [](const CnnRun& a, const CnnRun& b) { return a.train_fraction < b.train_fraction; });

  const CnnData data = prepare_cnn_data(dataset, r, ctx);
  const int64_t epochs = std::max<int64_t>(1, r.epochs), total = r.count * epochs;
  int64_t done = report.already_present * epochs;
  if (progress) progress(done, total);
  for (std::size_t b0 = 0; b0 < missing.size(); b0 += static_cast<std::size_t>(r.parallel)) {
    if (stop && stop->load()) break;
    const std::vector<CnnRun> batch(missing.begin() + static_cast<std::ptrdiff_t>(b0),
                                    missing.begin() + static_cast<std::ptrdiff_t>(std::min(missing.size(), b0 + static_cast<std::size_t>(r.parallel))));
    const auto nb = static_cast<int64_t>(batch.size());
    const auto results = train_cnn_runs(spec, r, choices, batch, data, ctx, stop, [&](int64_t epoch) {
      if (progress) progress(done + nb * epoch, total);
    });
    if (results.empty()) break;  // stopped
    for (const auto& res : results) {
      const auto& run = res.run;
      for (const auto& cp : res.checkpoints) {
        const int64_t index = writer->append(
            arch, cp.params.data(),
            {{"step", static_cast<double>(cp.epoch)},
             {"test_accuracy", cp.test_accuracy},
             {"test_loss", cp.test_loss},
             {"train_accuracy", cp.train_accuracy},
             {"train_loss", cp.train_loss}},
            {{"run", static_cast<double>(run.run)},
             {"activation", activation_names()[static_cast<std::size_t>(run.activation)]},
             {"optimizer", run.optimizer},
             {"init", run.init},
             {"lr", run.lr},
             {"l2", run.l2},
             {"dropout", run.dropout},
             {"init_std", run.init_std},
             {"train_fraction", run.train_fraction},
             {"diverged_epoch", res.diverged_epoch >= 0 ? static_cast<double>(res.diverged_epoch) : NAN},
             {"dataset", r.dataset}});
        stored[run.run][cp.epoch] = index;
      }
      report.final_test_accuracy.push_back(res.checkpoints.back().test_accuracy);
      if (res.diverged_epoch >= 0) ++report.diverged;
      ++report.trained;
    }
    writer->flush();
    done += nb * epochs;
    if (progress) progress(done, total);
  }

  report.interrupted = static_cast<int64_t>(stored.size()) < r.count;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  provenance.set("generation_seconds", seconds_before + report.seconds);
  provenance.set("generation_device", ctx.device + ", " + std::to_string(ctx.threads) + " threads");
  writer->set_provenance(provenance);
  if (!report.interrupted) {
    // Splits by run (a run's checkpoints never straddle splits): a seeded permutation of the runs.
    std::vector<int64_t> order(static_cast<std::size_t>(r.count));
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(mix(static_cast<uint64_t>(seed) ^ 0x73706c6974ull));
    std::shuffle(order.begin(), order.end(), rng);
    const auto n_test = static_cast<int64_t>(std::llround(r.test_fraction * static_cast<double>(r.count)));
    const auto n_val = static_cast<int64_t>(std::llround(r.validation_fraction * static_cast<double>(r.count)));
    std::vector<int64_t> test, validation, train, train_all;
    const int64_t last = choices.checkpoint_epochs.back();
    for (std::size_t k = 0; k < order.size(); ++k) {
      const auto& steps = stored.at(order[k]);
      const auto pos = static_cast<int64_t>(k);
      auto& split = pos < n_test ? test : pos < n_test + n_val ? validation : train;
      split.push_back(steps.at(last));
      if (&split == &train)
        for (const auto& [epoch, index] : steps) train_all.push_back(index);
    }
    writer->set_split("test", test);
    writer->set_split("validation", validation);
    writer->set_split("train", train);
    writer->set_split("train_all_steps", train_all);
    report.splits_written = true;
    report.test_runs = n_test;
    report.validation_runs = n_val;
    report.train_runs = r.count - n_test - n_val;
  }
  report.networks = writer->num_networks();
  writer->close();
  return report;
}

}  // namespace sne::generators
