#include "generators/cnn_runs.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/error.h"
#include "core/strings.h"
namespace sne::generators {
namespace {


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

double log_uniform(std::mt19937_64& rng, double lo, double hi) {
  std::uniform_real_distribution<double> u(std::log(lo), std::log(hi));
  return std::exp(u(rng));
}

template <class T>
const T& pick(std::mt19937_64& rng, const std::vector<T>& v) {
  return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
}

}  // namespace

uint64_t mix_seed(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

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
  return mix_seed(mix_seed(static_cast<uint64_t>(seed) ^ 0x636e6e7a6f6full) + static_cast<uint64_t>(run));
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
  std::mt19937_64 rng(mix_seed(run.seed ^ 0x696e6974ull));
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

}  // namespace sne::generators
