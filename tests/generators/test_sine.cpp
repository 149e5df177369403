#include "sne_catch.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <fstream>
#include <numeric>
#include <random>

#include <ATen/ATen.h>

#include "core/error.h"
#include "generators/siren_kernel.h"
#include "generators/sine_zoo.h"
#include "zoo/fixtures.h"
#include "zoo/zoo_check.h"
#include "zoo/symmetry.h"
#include "zoo/zoo_file.h"

using namespace sne;
using generators::SineRecipe;

namespace {

SineRecipe small_recipe(int64_t count) {
  SineRecipe r = config::defaults().generate.sine;
  r.count = count;
  r.batch = 4;
  return r;
}

Context cpu() { return make_context("cpu", 0, 0); }

// MSE of the stored weights against amplitude*sin(frequency*x), by plain loops.
double fit_error(const SineRecipe& r, const float* params, double frequency) {
  double sum = 0;
  for (int64_t k = 0; k < r.points; ++k) {
    const double x = -M_PI + static_cast<double>(k) * 2.0 * M_PI / static_cast<double>(r.points);
    const double d = generators::siren_forward(r, params, x) - r.amplitude * std::sin(frequency * x);
    sum += d * d;
  }
  return sum / static_cast<double>(r.points);
}

std::map<int64_t, std::vector<float>> by_inr(const std::string& path) {
  auto z = zoo::ZooFile::open(path);
  const auto inr = z->metadata("inr").numbers;
  std::map<int64_t, std::vector<float>> out;
  for (int64_t i = 0; i < z->num_networks(); ++i)
    out[static_cast<int64_t>(inr[static_cast<std::size_t>(i)])] = z->network_params(i);
  return out;
}

}  // namespace

TEST_CASE("the initial draw follows the recipe") {
  const SineRecipe r = small_recipe(1);
  const auto init = generators::sine_init(r, generators::sine_inr_seed(0, 7));
  CHECK(init.frequency >= r.freq_min);
  CHECK(init.frequency < r.freq_max);
  REQUIRE(init.params.size() == 1153);
  const auto spec = generators::siren_architecture(r);
  CHECK(spec.num_params() == 1153);
  const auto max_abs = [&](const std::string& tensor) {
    const auto* t = spec.find_tensor(tensor);
    float m = 0;
    for (int64_t k = 0; k < t->numel(); ++k) m = std::max(m, std::fabs(init.params[static_cast<std::size_t>(t->offset + k)]));
    return m;
  };
  CHECK(max_abs("l0.bias") == 0.0f);
  CHECK(max_abs("l1.bias") == 0.0f);
  CHECK(max_abs("l0.weight") <= std::sqrt(6.0) / 30 + 1e-7);
  CHECK(max_abs("l0.weight") > 0.5 * std::sqrt(6.0) / 30);
  CHECK(max_abs("l1.weight") <= std::sqrt(6.0 / 32) / 30 + 1e-7);
  CHECK(max_abs("l2.weight") <= 1 / std::sqrt(32.0) + 1e-7);
  // The same seed draws the same INR; another seed another one.
  CHECK(generators::sine_init(r, generators::sine_inr_seed(0, 7)).params == init.params);
  CHECK(generators::sine_init(r, generators::sine_inr_seed(0, 8)).frequency != init.frequency);
}

TEST_CASE("an INR trained in a batch matches the same INR trained alone") {
  SineRecipe r = small_recipe(5);
  r.max_steps = 60;
  r.target_loss = -1;  // no early stop: every INR runs all steps
  r.batch = 5;
  std::map<int64_t, generators::SineResult> batched, alone;
  generators::train_sines(r, 3, {0, 1, 2, 3, 4}, cpu(), [&](generators::SineResult&& x) { batched[x.inr] = x; });
  r.batch = 1;
  for (int64_t i : {1, 4})
    generators::train_sines(r, 3, {i}, cpu(), [&](generators::SineResult&& x) { alone[x.inr] = x; });
  REQUIRE(batched.size() == 5);
  for (int64_t i : {1, 4}) {
    CHECK(batched[i].steps == 60);
    CHECK(alone[i].steps == 60);
    // On the CPU each INR is computed from its own data only: bit for bit the same in a batch or alone.
    CHECK(batched[i].final_loss == alone[i].final_loss);
    CHECK(batched[i].params == alone[i].params);
    CHECK(batched[i].params != generators::sine_init(r, generators::sine_inr_seed(3, i)).params);  // it trained
  }
}

TEST_CASE("the zoo is bit-identical with one thread and with two") {
  SineRecipe r = small_recipe(6);
  r.batch = 6;
  r.max_steps = 80;
  std::map<int64_t, generators::SineResult> runs[2];
  for (int t : {1, 2}) {
    const Context ctx = make_context("cpu", t, 0);
    generators::train_sines(r, 5, {0, 1, 2, 3, 4, 5}, ctx, [&](generators::SineResult&& x) { runs[t - 1][x.inr] = x; });
  }
  REQUIRE(runs[0].size() == 6);
  REQUIRE(runs[1].size() == 6);
  for (int64_t i = 0; i < 6; ++i) {
    INFO("INR " << i);
    CHECK(runs[0][i].steps == runs[1][i].steps);
    CHECK(runs[0][i].final_loss == runs[1][i].final_loss);
    CHECK(runs[0][i].params == runs[1][i].params);
  }
}

TEST_CASE("the SIREN kernel's loss and gradient equal autograd's in float64") {
  SineRecipe r = small_recipe(1);
  r.points = 700;  // not a multiple of the kernel's 256-point block: the last block is partial
  const int64_t h = r.hidden;
  const generators::kernels::SirenShape shape{h, r.points, static_cast<float>(r.w0),
                                              static_cast<float>(r.output_offset)};
  std::vector<float> params = generators::sine_init(r, generators::sine_inr_seed(1, 3)).params;
  std::mt19937 rng(11);
  std::normal_distribution<float> noise(0.0f, 0.02f);
  for (auto& p : params) p += noise(rng);  // biases away from zero, as after training
  std::vector<float> x(static_cast<std::size_t>(r.points)), target(x.size());
  for (std::size_t k = 0; k < x.size(); ++k) {
    x[k] = static_cast<float>(-M_PI + static_cast<double>(k) * 2.0 * M_PI / static_cast<double>(r.points));
    target[k] = static_cast<float>(0.5 * std::sin(2.7 * x[k]));
  }
  std::vector<float> grad(params.size()), work(generators::kernels::siren_workspace_floats(shape));
  const double loss =
      generators::kernels::siren_loss_and_grad(shape, x.data(), target.data(), params.data(), grad.data(), work.data());

  // The same SIREN by LibTorch's autograd in float64.
  at::Tensor p = at::from_blob(params.data(), {static_cast<int64_t>(params.size())}, at::kFloat).to(at::kDouble);
  p.set_requires_grad(true);
  const at::Tensor xt = at::from_blob(x.data(), {r.points, 1}, at::kFloat).to(at::kDouble);
  const at::Tensor tt = at::from_blob(target.data(), {r.points}, at::kFloat).to(at::kDouble);
  const at::Tensor W0 = p.narrow(0, 0, h).view({h, 1}), b0 = p.narrow(0, h, h);
  const at::Tensor W1 = p.narrow(0, 2 * h, h * h).view({h, h}), b1 = p.narrow(0, 2 * h + h * h, h);
  const at::Tensor W2 = p.narrow(0, 3 * h + h * h, h).view({1, h}), b2 = p.narrow(0, 4 * h + h * h, 1);
  const at::Tensor s0 = at::sin(r.w0 * at::linear(xt, W0, b0));
  const at::Tensor s1 = at::sin(r.w0 * at::linear(s0, W1, b1));
  const at::Tensor out = at::linear(s1, W2, b2).squeeze(1) + r.output_offset;
  const at::Tensor ref = (out - tt).pow(2).mean();
  ref.backward();
  CHECK(loss == Approx(ref.item<double>()).epsilon(1e-4));
  const at::Tensor g = at::from_blob(grad.data(), {static_cast<int64_t>(grad.size())}, at::kFloat).to(at::kDouble);
  const at::Tensor gref = p.grad();
  const double rel = (g - gref).norm().item<double>() / gref.norm().item<double>();
  CHECK(rel < 1e-4);
  // Every parameter tensor on its own, so that a wrong block (say, the transposed W1) cannot hide in the norm.
  for (const auto& [off, len] : std::vector<std::pair<int64_t, int64_t>>{
           {0, h}, {h, h}, {2 * h, h * h}, {2 * h + h * h, h}, {3 * h + h * h, h}, {4 * h + h * h, 1}}) {
    INFO("parameters " << off << " + " << len);
    const at::Tensor d = g.narrow(0, off, len) - gref.narrow(0, off, len);
    CHECK(d.norm().item<double>() <= 1e-4 * gref.narrow(0, off, len).norm().item<double>() + 1e-9);
  }
}

TEST_CASE("the fused sincos matches the library's sin and cos") {
  std::vector<float> x;
  for (float v = -2000.0f; v <= 2000.0f; v += 0.37f) x.push_back(v);
  for (float v = -4.0f; v <= 4.0f; v += 1e-3f) x.push_back(v);
  std::vector<float> s(x.size()), c(x.size());
  generators::kernels::sincos_approx(x.data(), static_cast<int64_t>(x.size()), s.data(), c.data());
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    worst = std::max(worst, std::fabs(s[i] - std::sin(static_cast<double>(x[i]))));
    worst = std::max(worst, std::fabs(c[i] - std::cos(static_cast<double>(x[i]))));
  }
  CHECK(worst < 1e-6);  // float32 rounding of the argument itself dominates at |x| = 2000
}

TEST_CASE("generated INRs really fit their sine (independent forward pass)") {
  test::TempDir dir;
  const std::string path = dir.file("sine.h5");
  SineRecipe r = small_recipe(6);
  const auto report = generators::generate_sine_zoo(r, 1, path, cpu());
  CHECK(report.trained == 6);
  CHECK(report.splits_written);
  auto z = zoo::ZooFile::open(path);
  CHECK(zoo::check_zoo(z, 1 << 20).ok());
  const auto freq = z->property("frequency");
  const auto loss = z->property("final_loss");
  const auto steps = z->property("steps");
  for (int64_t i = 0; i < 6; ++i) {
    const auto u = static_cast<std::size_t>(i);
    const auto p = z->network_params(i);
    const double err = fit_error(r, p.data(), freq[u]);
    CHECK(err == Approx(loss[u]).epsilon(0.02).margin(2e-6));  // float32 training vs double evaluation
    CHECK(err < 2 * r.target_loss);
    CHECK(steps[u] < r.max_steps);
    // A wrong frequency fits far worse: the weights encode this sine, not just any function.
    CHECK(fit_error(r, p.data(), freq[u] * 1.2) > 100 * err);
  }
  CHECK(z->split("test").size() + z->split("validation").size() + z->split("train").size() == 6);
  CHECK(z->provenance().at("recipe").at("w0").as_number() == 30);
}

TEST_CASE("an interrupted generation resumes to the same zoo") {
  test::TempDir dir;
  SineRecipe r = small_recipe(8);
  r.max_steps = 40;
  r.batch = 3;
  const std::string whole = dir.file("whole.h5"), parts = dir.file("parts.h5");
  generators::generate_sine_zoo(r, 5, whole, cpu());

  std::atomic<bool> stop{false};
  const auto first = generators::generate_sine_zoo(r, 5, parts, cpu(), &stop, [&](int64_t done, int64_t, int64_t) {
    if (done >= 3) stop = true;
  });
  CHECK(first.interrupted);
  CHECK_FALSE(first.splits_written);
  CHECK(first.trained >= 3);
  CHECK(first.trained < 8);
  {
    auto partial = zoo::ZooFile::open(parts);  // readable as it is; validate says it is unfinished
    CHECK(partial->num_networks() == first.trained);
    const auto report = zoo::check_zoo(partial, 1 << 20);
    REQUIRE(report.problems.size() == 1);
    CHECK_THAT(report.problems[0], Catch::Contains("of the 8 networks its provenance promises"));
  }
  const auto second = generators::generate_sine_zoo(r, 5, parts, cpu());
  CHECK(second.already_present == first.trained);
  CHECK(second.trained == 8 - first.trained);
  CHECK(second.splits_written);
  const auto a = by_inr(whole), b = by_inr(parts);
  REQUIRE(a.size() == 8);
  REQUIRE(b.size() == 8);
  for (const auto& [inr, params] : a) {
    float diff = 0;
    for (std::size_t k = 0; k < params.size(); ++k) diff = std::max(diff, std::fabs(params[k] - b.at(inr)[k]));
    CHECK(diff < 1e-4f);
  }
  // Running it again finds nothing to do.
  CHECK(generators::generate_sine_zoo(r, 5, parts, cpu()).trained == 0);
}

TEST_CASE("bad generation requests are refused clearly") {
  test::TempDir dir;
  SineRecipe r = small_recipe(2);
  r.max_steps = 2;
  SECTION("frequency range") {
    r.freq_min = 5;
    r.freq_max = 5;
    CHECK_THROWS_AS(generators::generate_sine_zoo(r, 0, dir.file("a.h5"), cpu()), ConfigError);
  }
  SECTION("an existing zoo of another recipe") {
    generators::generate_sine_zoo(r, 0, dir.file("a.h5"), cpu());
    CHECK_THROWS_WITH(generators::generate_sine_zoo(r, 1, dir.file("a.h5"), cpu()),
                      Catch::Contains("holds a different zoo") && Catch::Contains("seed 0 vs 1"));
  }
  SECTION("an existing file that is not a zoo") {
    std::ofstream(dir.file("notes.txt")) << "my notes\n";
    CHECK_THROWS_WITH(generators::generate_sine_zoo(r, 0, dir.file("notes.txt"), cpu()),
                      Catch::Contains("not a readable zoo; refusing to overwrite"));
  }
  SECTION("an unwritable place") {
    CHECK_THROWS_AS(generators::generate_sine_zoo(r, 0, "/proc/sne_cannot_write_here/z.h5", cpu()), IoError);
  }
}

TEST_CASE("a permutation drawn from the symmetry spec preserves the INR's function") {
  const SineRecipe r = small_recipe(1);
  const auto spec = generators::siren_architecture(r);
  std::vector<float> p = generators::sine_init(r, generators::sine_inr_seed(0, 3)).params;
  for (auto& v : p) v += 0.01f * static_cast<float>(&v - p.data()) / 1153.0f;  // non-zero biases too
  std::vector<float> q = p;
  std::mt19937_64 rng(7);
  zoo::random_symmetry_transform(spec, rng, q.data());
  CHECK(q != p);
  for (double x : {-3.0, -1.0, 0.0, 0.5, 2.9})
    CHECK(generators::siren_forward(r, q.data(), x) == Approx(generators::siren_forward(r, p.data(), x)).margin(1e-6));
  // A permutation that breaks the spec (rows of l0 moved without the matching columns of l1) changes it.
  std::vector<float> wrong = p;
  std::swap_ranges(wrong.begin(), wrong.begin() + 1, wrong.begin() + 1);  // swap l0.weight[0] and [1] only
  CHECK(generators::siren_forward(r, wrong.data(), 0.5) != Approx(generators::siren_forward(r, p.data(), 0.5)));
}
