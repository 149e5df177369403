// CNN zoo generator: architecture specs, the batched forward (symmetries preserve the function; networks in a
// batch compute what they compute alone), training, and the zoo file with its splits and resume.
#include "../torch_catch.h"

#include <zlib.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <random>
#include <numeric>
#include <set>

#include "config/config.h"
#include "core/error.h"
#include "encoder/sne_encoder.h"
#include "generators/cnn_zoo.h"
#include "zoo/fixtures.h"
#include "zoo/symmetry.h"
#include "zoo/zoo_check.h"
#include "zoo/zoo_file.h"

using namespace sne;
using Catch::Matchers::Contains;

namespace {

generators::CnnRecipe recipe(const std::string& arch) {
  auto r = config::defaults().generate.cnn;
  r.arch = arch;
  r.vit_patch = 4, r.vit_dim = 8, r.vit_depth = 2, r.vit_heads = 2, r.vit_mlp_ratio = 2;
  return r;
}

torch::Tensor forward(const zoo::ArchitectureSpec& spec, const std::vector<std::vector<float>>& rows,
                      const std::vector<int>& act, const torch::Tensor& x, const std::string& mode = "auto") {
  std::vector<torch::Tensor> t;
  for (const auto& r : rows) t.push_back(torch::tensor(r));
  generators::BatchedNets nets{&spec, torch::stack(t), act, {}, false, {}, mode};
  return generators::batched_forward(nets, x);
}

// A learnable toy dataset: class = brightest quadrant-ish pattern, 16 x 16 images.
void write_idx_gz(const std::string& path, const std::vector<int64_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> b = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (auto d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>((d >> s) & 0xff));
  b.insert(b.end(), data.begin(), data.end());
  gzFile g = gzopen(path.c_str(), "wb");
  gzwrite(g, b.data(), static_cast<unsigned>(b.size()));
  gzclose(g);
}

void write_toy_dataset(const test::TempDir& dir, int n_train, int n_test) {
  std::mt19937 rng(5);
  for (const auto& [stem, n] : {std::pair<std::string, int>{"train", n_train}, {"t10k", n_test}}) {
    std::vector<uint8_t> px, labels;
    for (int i = 0; i < n; ++i) {
      const int y = static_cast<int>(rng() % 4);
      labels.push_back(static_cast<uint8_t>(y));
      for (int r = 0; r < 16; ++r)
        for (int c = 0; c < 16; ++c) {
          const bool lit = (r < 8) == (y / 2 == 0) && (c < 8) == (y % 2 == 0);
          px.push_back(static_cast<uint8_t>((lit ? 160 : 40) + rng() % 60));
        }
    }
    write_idx_gz(dir.file(stem + "-images-idx3-ubyte.gz"), {n, 16, 16}, px);
    write_idx_gz(dir.file(stem + "-labels-idx1-ubyte.gz"), {n}, labels);
  }
}

}  // namespace

TEST_CASE("architecture specs: parameter counts and valid symmetry specs", "[cnn]") {
  const auto a1 = generators::cnn_architecture(recipe("arch1"), 1, 28, 28);
  CHECK(a1.name == "arch1");
  CHECK(a1.num_params() == 4970);  // Unterthiner et al.'s Small CNN
  CHECK(a1.problems().empty());
  CHECK(generators::cnn_architecture(recipe("arch1"), 1, 32, 32).num_params() == 4970);
  const auto a2 = generators::cnn_architecture(recipe("arch2"), 3, 32, 32);
  CHECK(a2.problems().empty());
  CHECK(a2.find_tensor("dense0.weight")->shape == std::vector<int64_t>{32, 8 * 6 * 6});
  const auto v = generators::cnn_architecture(recipe("vit"), 1, 16, 16);
  CHECK(v.problems().empty());
  CHECK(v.symmetries.size() == 4);  // heads and MLP units of 2 blocks
  auto bad = recipe("arch3");
  CHECK_THROWS_WITH(generators::cnn_architecture(bad, 1, 28, 28), Contains("unknown architecture 'arch3'") && Contains("arch1, arch2, vit"));
  CHECK_THROWS_WITH(generators::cnn_architecture(recipe("arch1"), 1, 8, 8), Contains("at least 15x15"));
  auto odd = recipe("vit");
  odd.vit_patch = 5;
  CHECK_THROWS_WITH(generators::cnn_architecture(odd, 1, 16, 16), Contains("does not divide"));
}

TEST_CASE("every declared symmetry preserves the function, for every architecture", "[cnn][invariance]") {
  torch::manual_seed(0);
  for (const auto& [arch, c, hw] : {std::tuple{"arch1", 1, 28}, std::tuple{"arch2", 3, 20}, std::tuple{"vit", 1, 16}}) {
    const auto spec = generators::cnn_architecture(recipe(arch), c, hw, hw);
    std::mt19937_64 rng(1);
    for (int act = 0; act < 4; ++act) {
      generators::CnnRun run;
      run.seed = 100 + static_cast<uint64_t>(act);
      run.init = "he_normal";
      auto p = generators::init_cnn_params(spec, run);
      for (auto& v : p) v += 0.05f * static_cast<float>(static_cast<int>(rng() % 200) - 100) / 100.0f;  // biases too
      auto q = p;
      zoo::random_symmetry_transform(spec, rng, q.data());
      REQUIRE(p != q);
      const auto x = torch::rand({1, 5, c, hw, hw}) * 2 - 1;
      const auto a = forward(spec, {p}, {act}, x), b = forward(spec, {q}, {act}, x);
      INFO(arch << " activation " << act);
      CHECK(torch::allclose(a, b, 1e-4, 1e-5));
    }
  }
}

TEST_CASE("networks in a batch compute what they compute alone, grouped or one at a time", "[cnn]") {
  torch::manual_seed(0);
  for (const auto& [arch, c, hw] : {std::tuple{"arch1", 1, 20}, std::tuple{"arch2", 3, 20}, std::tuple{"vit", 1, 16}}) {
    const auto spec = generators::cnn_architecture(recipe(arch), c, hw, hw);
    std::vector<std::vector<float>> rows;
    for (int k = 0; k < 3; ++k) {
      generators::CnnRun run;
      run.seed = static_cast<uint64_t>(k);
      run.init = "glorot_uniform";
      rows.push_back(generators::init_cnn_params(spec, run));
    }
    const std::vector<int> act = {0, 1, 3};
    const auto x = torch::rand({3, 4, c, hw, hw}) * 2 - 1;
    const auto grouped = forward(spec, rows, act, x, "grouped"), each = forward(spec, rows, act, x, "per_network");
    INFO(arch);
    CHECK(torch::allclose(grouped, each, 1e-4, 1e-5));
    for (int k = 0; k < 3; ++k)
      CHECK(torch::allclose(each[k], forward(spec, {rows[static_cast<std::size_t>(k)]}, {act[static_cast<std::size_t>(k)]},
                                              x.narrow(0, k, 1))[0], 1e-4, 1e-5));
  }
}

TEST_CASE("recipe lists are checked", "[cnn]") {
  auto r = recipe("arch1");
  r.epochs = 3;
  r.checkpoint_epochs = "0,1";
  CHECK_THROWS_WITH(generators::parse_cnn_choices(r), Contains("must include the last epoch (3"));
  r.checkpoint_epochs = "0,5";
  CHECK_THROWS_WITH(generators::parse_cnn_choices(r), Contains("not a whole epoch in [0, 3]"));
  r.checkpoint_epochs = "3";
  r.optimizers = "adam,lion";
  CHECK_THROWS_WITH(generators::parse_cnn_choices(r), Contains("generate.cnn.optimizers") && Contains("'lion'"));
  r.optimizers = "adam";
  r.train_fractions = "0.5,2";
  CHECK_THROWS_WITH(generators::parse_cnn_choices(r), Contains("2 is not in (0, 1]"));
}

// An arch1 training set-up on the toy images in `dir` (written by write_toy_dataset): the recipe after `edit`,
// its parsed choices, the architecture and the images as tensors.
struct ToyTraining {
  generators::CnnRecipe r;
  generators::CnnChoices choices;
  zoo::ArchitectureSpec spec;
  generators::CnnData data;
};
ToyTraining toy_training(const test::TempDir& dir, const std::function<void(generators::CnnRecipe&)>& edit) {
  ToyTraining t;
  t.r = recipe("arch1");
  t.r.dataset = "mnist";
  t.r.data_dir = dir.path.string();
  t.r.batch_size = 32;
  t.r.inits = "he_normal";
  t.r.dropout_max = 0.0;  // the grouped (GPU) way draws one batch's dropout masks together; the CPU's does not
  edit(t.r);
  t.choices = generators::parse_cnn_choices(t.r);
  const auto d = data::load_dataset(t.r.dataset, t.r.data_dir, false);
  t.spec = generators::cnn_architecture(t.r, 1, 16, 16);
  t.data = generators::prepare_cnn_data(d, t.r, Context());
  return t;
}

TEST_CASE("training improves the networks; a run trained in a batch equals the run trained alone", "[cnn][train]") {
  test::TempDir dir;
  write_toy_dataset(dir, 256, 128);
  const auto [r, choices, spec, data] = toy_training(dir, [](generators::CnnRecipe& r) {
    r.epochs = 3;
    r.checkpoint_epochs = "0,3";
    r.optimizers = "adam,sgd,rmsprop";
    r.lr_min = 3e-3, r.lr_max = 1e-2;
    r.train_fractions = "1";
  });
  const Context ctx;
  std::vector<generators::CnnRun> runs;
  for (int k = 0; k < 4; ++k) runs.push_back(generators::sample_cnn_run(r, choices, 7, k));
  const auto all = generators::train_cnn_runs(spec, r, choices, runs, data, ctx);
  REQUIRE(all.size() == 4);
  int improved = 0;
  for (const auto& res : all) {
    REQUIRE(res.checkpoints.size() == 2);
    CHECK(res.checkpoints[0].epoch == 0);
    CHECK(res.checkpoints[1].epoch == 3);
    if (res.checkpoints[1].train_loss < res.checkpoints[0].train_loss) ++improved;
  }
  CHECK(improved >= 3);
  const auto alone = generators::train_cnn_runs(spec, r, choices, {runs[2]}, data, ctx);
  CHECK(alone[0].checkpoints[1].params == all[2].checkpoints[1].params);
  CHECK(alone[0].checkpoints[1].test_accuracy == all[2].checkpoints[1].test_accuracy);
}

TEST_CASE("generate_cnn_zoo: checkpoints as networks, splits by run, interrupt and continue", "[cnn][zoo]") {
  test::TempDir dir;
  write_toy_dataset(dir, 128, 64);
  auto r = recipe("arch2");
  r.dataset = "mnist";
  r.data_dir = dir.path.string();
  r.count = 6;
  r.epochs = 1;
  r.checkpoint_epochs = "0,1";
  r.batch_size = 32;
  r.parallel = 2;
  r.dropout_max = 0.0;
  r.test_fraction = 0.34;
  r.validation_fraction = 0.17;
  const Context ctx;

  const auto whole = generators::generate_cnn_zoo(r, 3, dir.file("whole.h5"), ctx);
  CHECK(whole.trained == 6);
  CHECK(whole.networks == 12);
  auto z = zoo::ZooFile::open(dir.file("whole.h5"));
  CHECK(zoo::check_zoo(z, 1 << 20).ok());
  const auto step = z->property("step");
  const auto run = z->metadata("run").numbers;
  std::set<double> test_runs, train_runs;
  for (auto i : z->split("test")) {
    CHECK(step[static_cast<std::size_t>(i)] == 1);
    test_runs.insert(run[static_cast<std::size_t>(i)]);
  }
  for (auto i : z->split("train")) {
    CHECK(step[static_cast<std::size_t>(i)] == 1);
    train_runs.insert(run[static_cast<std::size_t>(i)]);
  }
  CHECK(test_runs.size() == 2);
  CHECK(z->split("validation").size() == 1);
  CHECK(train_runs.size() == 3);
  for (double k : test_runs) CHECK(train_runs.count(k) == 0);
  CHECK(z->split("train_all_steps").size() == 6);
  for (const char* p : {"test_accuracy", "train_accuracy", "test_loss", "train_loss"}) CHECK(z->has_property(p));
  CHECK(z->provenance().at("reduced_recipe").as_string().find("1 epochs instead of 86") != std::string::npos);

  // Stop after the first batch, then continue: the same networks as the uninterrupted generation.
  std::atomic<bool> stop{false};
  int64_t seen = 0;
  const auto first = generators::generate_cnn_zoo(r, 3, dir.file("resumed.h5"), ctx, &stop, [&](int64_t done, int64_t) {
    if (done > 0 && ++seen == 1) stop = true;
  });
  CHECK(first.interrupted);
  CHECK_FALSE(first.splits_written);
  CHECK(zoo::ZooFile::open(dir.file("resumed.h5"))->num_networks() == 4);
  const auto rest = generators::generate_cnn_zoo(r, 3, dir.file("resumed.h5"), ctx);
  CHECK(rest.already_present == 2);
  CHECK(rest.trained == 4);
  auto zr = zoo::ZooFile::open(dir.file("resumed.h5"));
  REQUIRE(zr->num_networks() == 12);
  const auto run_r = zr->metadata("run").numbers;
  const auto step_r = zr->property("step");
  for (int64_t i = 0; i < 12; ++i)
    for (int64_t j = 0; j < 12; ++j)
      if (run_r[static_cast<std::size_t>(i)] == run[static_cast<std::size_t>(j)] &&
          step_r[static_cast<std::size_t>(i)] == step[static_cast<std::size_t>(j)])
        CHECK(zr->network_params(i) == z->network_params(j));

  // A different recipe in the same file is refused, naming the difference.
  auto other = r;
  other.epochs = 2;
  other.checkpoint_epochs = "2";
  CHECK_THROWS_WITH(generators::generate_cnn_zoo(other, 3, dir.file("whole.h5"), ctx), Contains("epochs"));
}

TEST_CASE("the SNE code is invariant to the declared symmetries of arch1, arch2 and the ViT", "[cnn][invariance]") {
  // Symmetries permute elements within tensors. With chunks of one element every one of them only reorders the
  // set of chunks of a tensor, so the code is exactly invariant; with chunks of one 3x3 kernel (c = 9), arch1's
  // conv channel permutations reorder whole chunks, so those are exact too.
  torch::manual_seed(4);
  const auto code = [](const zoo::ArchitectureSpec& spec, const std::vector<float>& p, int64_t chunk) {
    encoder::EncoderOptions o;
    o.blocks.dim = 8;
    o.blocks.heads = 2;
    o.chunk_size = chunk;
    torch::manual_seed(11);  // the same encoder weights for every call
    encoder::SNEEncoder enc(o);
    torch::NoGradGuard ng;
    return enc->forward(encoder::build_input({&spec}, {p.data()}, chunk, torch::kCPU));
  };
  for (const auto& [arch, c, hw] : {std::tuple{"arch1", 1, 28}, std::tuple{"arch2", 1, 20}, std::tuple{"vit", 1, 16}}) {
    const auto spec = generators::cnn_architecture(recipe(arch), c, hw, hw);
    generators::CnnRun run;
    run.seed = 9;
    run.init = "he_normal";
    auto p = generators::init_cnn_params(spec, run);
    std::mt19937_64 rng(3);
    for (auto& v : p) v += 0.01f * static_cast<float>(static_cast<int>(rng() % 200) - 100) / 100.0f;
    auto q = p;
    zoo::random_symmetry_transform(spec, rng, q.data());
    INFO(arch);
    const auto a = code(spec, p, 1), b = code(spec, q, 1);
    CHECK(torch::allclose(a, b, 1e-4, 1e-5));
  }
  const auto spec = generators::cnn_architecture(recipe("arch1"), 1, 28, 28);
  generators::CnnRun run;
  run.seed = 10;
  run.init = "glorot_uniform";
  const auto p = generators::init_cnn_params(spec, run);
  auto q = p;
  std::vector<int64_t> perm(16);
  std::iota(perm.begin(), perm.end(), 0);
  std::mt19937_64 rng(5);
  std::shuffle(perm.begin(), perm.end(), rng);
  zoo::permute_units(spec, 0, perm, q.data());  // conv0.channels: rows of conv0, kernels of conv1
  std::shuffle(perm.begin(), perm.end(), rng);
  zoo::permute_units(spec, 1, perm, q.data());  // conv1.channels
  CHECK(torch::allclose(code(spec, p, 9), code(spec, q, 9), 1e-4, 1e-5));
}

TEST_CASE("generate_cnn_zoo: the calibration projects the steps still to run, once", "[cnn][zoo]") {
  test::TempDir dir;
  write_toy_dataset(dir, 128, 64);
  auto r = recipe("arch1");
  r.dataset = "mnist";
  r.data_dir = dir.path.string();
  r.count = 6;
  r.parallel = 2;
  r.epochs = 2;
  r.checkpoint_epochs = "2";
  r.batch_size = 32;
  r.train_fractions = "1";  // every run: 128 images, 4 steps per epoch
  int calls = 0;
  int64_t steps = 0;
  double seconds = -1;
  generators::generate_cnn_zoo(r, 1, dir.file("z.h5"), Context(), nullptr, {}, [&](double s, int64_t n) {
    ++calls;
    steps = n;
    seconds = s;
  });
  CHECK(calls == 1);
  CHECK(steps == 3 * 2 * 4);  // 3 batches of 2 runs, 2 epochs, 4 steps
  CHECK(seconds > 0);
}

TEST_CASE("a run with a small training subset trains as alone beside runs with larger ones", "[cnn][train]") {
  // Its batch takes as many steps per epoch as its largest subset needs; in the steps after its own subset is
  // done the small run is skipped (not computed) and must come out as if it had trained alone.
  test::TempDir dir;
  write_toy_dataset(dir, 256, 64);
  const auto [r, choices, spec, data] = toy_training(dir, [](generators::CnnRecipe& r) {
    r.epochs = 2;
    r.checkpoint_epochs = "2";
    r.optimizers = "adam";
  });
  const Context ctx;
  std::vector<generators::CnnRun> runs;
  for (int k = 0; k < 3; ++k) runs.push_back(generators::sample_cnn_run(r, choices, 11, k));
  runs[0].train_fraction = 0.25;  // 64 images: 2 steps per epoch
  runs[1].train_fraction = 1.0;   // 256 images: 8 steps per epoch
  runs[2].train_fraction = 0.5;
  const auto all = generators::train_cnn_runs(spec, r, choices, runs, data, ctx);
  for (std::size_t k : {0u, 2u}) {
    const auto alone = generators::train_cnn_runs(spec, r, choices, {runs[k]}, data, ctx);
    INFO("run " << k);
    CHECK(alone[0].checkpoints.back().params == all[k].checkpoints.back().params);
    CHECK(alone[0].checkpoints.back().train_loss == all[k].checkpoints.back().train_loss);
  }
}

TEST_CASE("on a CPU a run is the same bit for bit with 1 or 2 threads and in any batch, dropout included", "[cnn][train]") {
  test::TempDir dir;
  write_toy_dataset(dir, 256, 64);
  const auto [r, choices, spec, data] = toy_training(dir, [](generators::CnnRecipe& r) {
    r.epochs = 2;
    r.checkpoint_epochs = "1,2";
    r.optimizers = "adam,sgd,rmsprop";
    r.dropout_max = 0.5;
    r.train_fractions = "0.5,1";
  });
  const Context ctx;
  std::vector<generators::CnnRun> runs;
  for (int k = 0; k < 5; ++k) runs.push_back(generators::sample_cnn_run(r, choices, 13, k));
  REQUIRE(std::any_of(runs.begin(), runs.end(), [](const generators::CnnRun& x) { return x.dropout > 0.05; }));
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const auto one = generators::train_cnn_runs(spec, r, choices, runs, data, ctx);
  at::set_num_threads(2);
  const auto two = generators::train_cnn_runs(spec, r, choices, runs, data, ctx);
  const auto alone = generators::train_cnn_runs(spec, r, choices, {runs[3]}, data, ctx);
  at::set_num_threads(threads);
  REQUIRE(one.size() == runs.size());
  REQUIRE(two.size() == runs.size());
  for (std::size_t k = 0; k < runs.size(); ++k) {
    INFO("run " << k);
    REQUIRE(one[k].checkpoints.size() == 2);
    for (std::size_t e = 0; e < 2; ++e) {
      CHECK(one[k].checkpoints[e].params == two[k].checkpoints[e].params);
      CHECK(one[k].checkpoints[e].test_loss == two[k].checkpoints[e].test_loss);
      CHECK(one[k].checkpoints[e].train_loss == two[k].checkpoints[e].train_loss);
      CHECK(one[k].checkpoints[e].test_accuracy == two[k].checkpoints[e].test_accuracy);
    }
    CHECK(one[k].checkpoints[1].params != one[k].checkpoints[0].params);  // it trained
  }
  CHECK(alone[0].checkpoints[1].params == one[3].checkpoints[1].params);
  CHECK(alone[0].checkpoints[1].test_loss == one[3].checkpoints[1].test_loss);
}
