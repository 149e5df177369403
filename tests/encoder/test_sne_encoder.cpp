#include "torch_catch.h"

#include "encoder/pad_chunk.h"
#include "encoder/sne_encoder.h"
#include "zoo/symmetry.h"
#include "zoo/fixtures.h"

using namespace sne;
using namespace sne::encoder;

namespace {

EncoderOptions small(int64_t chunk) {
  EncoderOptions o;
  o.blocks.dim = 16;
  o.blocks.heads = 4;
  o.chunk_size = chunk;
  return o;
}

struct Nets {
  std::vector<zoo::ArchitectureSpec> specs;
  std::vector<std::vector<float>> params;
  void add(const zoo::ArchitectureSpec& s, float scale) {
    specs.push_back(s);
    const torch::Tensor p = torch::randn({s.num_params()}) * scale;
    params.emplace_back(p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
  }
  EncoderInput input(int64_t chunk, std::vector<std::size_t> which = {}) const {
    if (which.empty())
      for (std::size_t i = 0; i < specs.size(); ++i) which.push_back(i);
    std::vector<const zoo::ArchitectureSpec*> a;
    std::vector<const float*> p;
    for (std::size_t i : which) {
      a.push_back(&specs[i]);
      p.push_back(params[i].data());
    }
    return build_input(a, p, chunk, torch::kCPU);
  }
};

bool close(const torch::Tensor& a, const torch::Tensor& b, double tol = 1e-5) { return torch::allclose(a, b, tol, tol); }

// The same encoder without (budget 0) and with a chunk budget, sharing their initial weights. The budget slices
// the LibTorch composition (the hand-written kernel bounds its memory by tiles; test_fused_kernels.cpp).
std::pair<SNEEncoder, SNEEncoder> unsliced_and_sliced(int64_t chunk, int64_t budget) {
  EncoderOptions o = small(chunk);
  o.fused_kernels = false;
  SNEEncoder all(o);
  o.chunk_budget = budget;
  SNEEncoder sliced(o);
  torch::NoGradGuard no_grad;
  for (auto& p : sliced->named_parameters()) p.value().copy_(all->named_parameters()[p.key()]);
  return {all, sliced};
}

}  // namespace

TEST_CASE("one encoder reads a batch of mixed architectures, each network as if alone") {
  torch::manual_seed(0);
  Nets nets;
  nets.add(test::mlp_spec("mlp", 2, 4, 1), 1.0f);
  nets.add(test::cnn_spec(), 0.5f);
  nets.add(test::mlp_spec("wide", 3, 16, 2), 2.0f);
  SNEEncoder enc(small(5));
  enc->eval();
  const torch::Tensor z = enc->forward(nets.input(5));
  REQUIRE(z.size(0) == 3);
  REQUIRE(z.size(1) == 16);
  CHECK(torch::isfinite(z).all().item<bool>());
  for (std::size_t i = 0; i < 3; ++i) CHECK(close(enc->forward(nets.input(5, {i}))[0], z[static_cast<int64_t>(i)]));
}

TEST_CASE("the chunk budget bounds memory without changing the result") {
  torch::manual_seed(1);
  Nets nets;
  for (int i = 0; i < 4; ++i) nets.add(test::cnn_spec(), 1.0f);
  auto [all, sliced] = unsliced_and_sliced(4, 3);
  torch::NoGradGuard no_grad;
  CHECK(close(sliced->forward(nets.input(4)), all->forward(nets.input(4))));
}

TEST_CASE("under a chunk budget, training recomputes the slices and gets the same gradients") {
  torch::manual_seed(3);
  Nets nets;
  for (int i = 0; i < 3; ++i) nets.add(test::cnn_spec(), 1.0f);
  nets.add(test::mlp_spec("mlp", 2, 4, 1), 1.0f);
  auto [all, sliced] = unsliced_and_sliced(4, 5);
  const EncoderInput in = nets.input(4);
  REQUIRE(in.chunks.values.size(0) > 4 * 5);  // several slices
  const torch::Tensor w = torch::randn({4, 16});
  const torch::Tensor za = all->forward(in), zs = sliced->forward(in);
  CHECK(zs.requires_grad());
  CHECK(close(za, zs));
  (za * w).sum().backward();
  (zs * w).sum().backward();
  int64_t compared = 0;
  for (auto& p : sliced->named_parameters()) {
    const torch::Tensor ga = all->named_parameters()[p.key()].grad();
    REQUIRE(ga.defined());
    REQUIRE(p.value().grad().defined());
    CHECK(close(p.value().grad(), ga, 1e-4));
    compared += ga.abs().sum().item<double>() > 0;
  }
  CHECK(compared > 20);  // stage-1 parameters (phi1, phi2, gamma_chunk, value_proj) among them
}

TEST_CASE("permuting hidden units leaves the code unchanged when chunks hold whole neuron rows") {
  torch::manual_seed(2);
  Nets nets;
  nets.add(test::mlp_spec("mlp", 3, 3, 1), 1.0f);  // rows of 3 elements, chunk size 3: the exact case
  const auto& spec = nets.specs[0];
  std::vector<float> permuted = nets.params[0];
  const int perm[3] = {2, 0, 1};
  const auto at = [&](const std::string& t) { return spec.find_tensor(t)->offset; };
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 3; ++k)
      permuted[static_cast<std::size_t>(at("l0.weight") + perm[i] * 3 + k)] =
          nets.params[0][static_cast<std::size_t>(at("l0.weight") + i * 3 + k)];
    permuted[static_cast<std::size_t>(at("l0.bias") + perm[i])] = nets.params[0][static_cast<std::size_t>(at("l0.bias") + i)];
    permuted[static_cast<std::size_t>(at("l1.weight") + perm[i])] = nets.params[0][static_cast<std::size_t>(at("l1.weight") + i)];
  }
  REQUIRE(permuted != nets.params[0]);
  nets.specs.push_back(spec);
  nets.params.push_back(permuted);
  SNEEncoder enc(small(3));
  const torch::Tensor z = enc->forward(nets.input(3));
  CHECK(close(z[0], z[1]));
}

TEST_CASE("the encoder is invariant to a spec's symmetries exactly where symmetries_preserve_chunks says so") {
  // Over architectures and chunk sizes: where the check says the symmetries map chunks onto chunks, random
  // symmetry transforms leave the code unchanged (float rounding only); where it says not, they change it.
  // The trainer skips the invariance term on the check's word, so both directions matter.
  torch::manual_seed(5);
  std::vector<zoo::ArchitectureSpec> specs = {test::mlp_spec("mlp_1_6_1", 1, 6, 1), test::mlp_spec("mlp_2_4_1", 2, 4, 1),
                                              test::mlp_spec("mlp_3_5_2", 3, 5, 2), test::cnn_spec()};
  int exact = 0, inexact = 0;
  for (const auto& spec : specs) {
    for (int64_t c : {1, 2, 3, 4, 5, 6, 8, 9, 12, 18}) {
      INFO(spec.name << " at chunk size " << c);
      Nets nets;
      nets.add(spec, 1.0f);
      std::mt19937_64 rng(static_cast<uint64_t>(c));
      constexpr int kTransforms = 8;  // two units have one non-identity permutation: 8 draws all miss it 1 in 256
      for (int k = 0; k < kTransforms; ++k) {
        nets.specs.push_back(spec);
        nets.params.push_back(nets.params[0]);
        zoo::random_symmetry_transform(spec, rng, nets.params.back().data());
      }
      SNEEncoder enc(small(c));
      torch::NoGradGuard no_grad;
      const torch::Tensor z = enc->forward(nets.input(c));
      const double gap = (z.narrow(0, 1, kTransforms) - z[0]).abs().max().item<double>();
      CHECK(enc->invariant_to(spec) == symmetries_preserve_chunks(spec, c));
      if (symmetries_preserve_chunks(spec, c)) {
        ++exact;
        CHECK(gap < 1e-5);
      } else {
        ++inexact;
        CHECK(gap > 1e-4);
      }
    }
  }
  CHECK(exact >= 8);
  CHECK(inexact >= 8);
}

TEST_CASE("symmetries_preserve_chunks: whole rows, rows inside one chunk, and the cases between") {
  // A 32 -> 32 -> 32 MLP: at c = 32 the first layer's rows are whole chunks (they move whole) and the second
  // layer's rows of 32 inputs each lie inside one chunk; at c = 16 the first layer's rows still move as whole
  // chunks, but the bias of 32 and each second-layer row fall into two chunks that a permutation mixes. A
  // 1 -> 32 -> 1 MLP at c = 8: its column of 32 first-layer weights is 4 chunks, mixed too.
  zoo::ArchitectureSpec inr = test::mlp_spec("hidden", 32, 32, 32);
  CHECK(symmetries_preserve_chunks(inr, 32));
  CHECK_FALSE(symmetries_preserve_chunks(inr, 16));
  CHECK(symmetries_preserve_chunks(test::mlp_spec("first", 1, 32, 1), 32));
  CHECK_FALSE(symmetries_preserve_chunks(test::mlp_spec("first", 1, 32, 1), 8));
  CHECK(symmetries_preserve_chunks(test::mlp_spec("first", 1, 32, 1), 1));  // chunks of one element move whole
  zoo::ArchitectureSpec other = inr;
  other.symmetries[0].kind = "sign";
  CHECK_FALSE(symmetries_preserve_chunks(other, 32));
  CHECK_THROWS_AS(symmetries_preserve_chunks(inr, 0), std::invalid_argument);
  // With element positions a chunk knows its weights' places: never invariant by construction.
  EncoderOptions o = small(32);
  o.element_positions = true;
  CHECK_FALSE(SNEEncoder(o)->invariant_to(inr));
  CHECK(SNEEncoder(small(32))->invariant_to(inr));
}

TEST_CASE("different networks get different codes at init, and every parameter learns") {
  torch::manual_seed(3);
  Nets nets;
  for (int i = 0; i < 16; ++i) nets.add(test::mlp_spec("mlp", 2, 8, 1), 0.1f + 0.2f * static_cast<float>(i));
  SNEEncoder enc(small(8));
  const torch::Tensor z = enc->forward(nets.input(8));
  const double spread = z.var(0).sum().item<double>() / z.pow(2).sum(1).mean().item<double>();
  // A literal reading collapsed to ~3e-4 after one pooling level. Measured here at h = 16 through all four levels:
  // 3.2e-3 (pre-LN), 1.6e-2 (post-LN); at h = 32 pre-LN falls to 2.4e-4 -- the open problem of the SNE issue.
  CHECK(spread > 1e-3);
  z.pow(2).sum().backward();
  for (const auto& p : enc->named_parameters()) {
    INFO(p.key());
    CHECK(p.value().grad().defined());
  }
}

TEST_CASE("every ablation switch still encodes") {
  torch::manual_seed(4);
  Nets nets;
  nets.add(test::mlp_spec("mlp", 2, 4, 1), 1.0f);
  nets.add(test::cnn_spec(), 1.0f);
  for (int k = 0; k < 5; ++k) {
    EncoderOptions o = small(4);
    if (k == 0) o.level_encoding = false;
    if (k == 1) o.type_encoding = false;
    if (k == 2) o.set_functions = false;
    if (k == 3) o.hierarchy = false, o.level_encoding = false, o.type_encoding = false;
    if (k == 4) o.value_embedding = "linear", o.blocks.pre_ln = false, o.blocks.pma_seed_residual = false;
    SNEEncoder enc(o);
    const torch::Tensor z = enc->forward(nets.input(4));
    CHECK(z.size(0) == 2);
    CHECK(torch::isfinite(z).all().item<bool>());
  }
  EncoderOptions bad = small(4);
  bad.value_embedding = "spline";
  CHECK_THROWS_WITH(SNEEncoder(bad), Catch::Contains("fourier or linear"));
}

TEST_CASE("position_scale scales the type and level encodings, and nothing else") {
  torch::manual_seed(4);
  Nets nets;
  nets.add(test::mlp_spec("mlp", 2, 4, 1), 1.0f);
  nets.add(test::cnn_spec(), 0.5f);
  // Encoders with the same parameters and different scales; `off` also drops both encodings.
  const auto encode = [&](double scale, bool encodings) {
    EncoderOptions o = small(4);
    o.position_scale = scale;
    o.level_encoding = o.type_encoding = encodings;
    torch::manual_seed(9);
    SNEEncoder e(o);
    torch::NoGradGuard no_grad;
    torch::manual_seed(9);
    SNEEncoder ref(small(4));  // position_scale 1: the parameters as initialised unscaled
    for (auto& p : e->named_parameters()) p.value().copy_(ref->named_parameters()[p.key()]);
    e->eval();
    return e->forward(nets.input(4));
  };
  CHECK(!close(encode(1.0, true), encode(0.3, true), 1e-4));  // the encodings take part ...
  CHECK(close(encode(1.0, false), encode(0.3, false)));       // ... and are all the scale touches
  CHECK(close(encode(0.0, true), encode(1.0, false)));        // scale 0 is no encoding at all
}

TEST_CASE("position_scale also sizes the role embedding at initialisation") {
  EncoderOptions o = small(4);
  torch::manual_seed(2);
  SNEEncoder unscaled(o);
  o.position_scale = 0.25;
  torch::manual_seed(2);
  SNEEncoder scaled(o);
  const auto role = [](SNEEncoder& e) { return e->named_parameters()["role_emb.weight"]; };
  CHECK(close(role(scaled), role(unscaled) * 0.25));
}

TEST_CASE("element_indices gives each weight its output index, input index and kernel offset") {
  Nets nets;
  nets.add(test::cnn_spec(), 1.0f);
  const auto& spec = nets.specs[0];
  const int64_t c = 5;
  const EncoderInput in = nets.input(c);
  const auto idx = element_indices(in.chunks.owner, in.chunks.start, in.tensor_fan, c);
  // Every real element: its flat index in its tensor, decomposed by the tensor's shape in row-major order.
  int64_t checked = 0, t = 0;
  for (const auto& layer : spec.layers)
    for (const auto& tensor : layer.tensors) {
      const auto& s = tensor.shape;
      const int64_t inputs = s.size() >= 2 ? s[1] : 1;
      int64_t kernel = 1;
      for (std::size_t a = 2; a < s.size(); ++a) kernel *= s[a];
      for (int64_t e = 0; e < tensor.numel(); ++e) {
        const int64_t chunk = in.chunks.first_chunk[static_cast<std::size_t>(t)] + e / c, j = e % c;
        INFO(tensor.name << " element " << e);
        CHECK(idx[0][chunk][j].item<int64_t>() == e / (inputs * kernel));
        CHECK(idx[1][chunk][j].item<int64_t>() == (e / kernel) % inputs);
        CHECK(idx[2][chunk][j].item<int64_t>() == e % kernel);
        ++checked;
      }
      ++t;
    }
  CHECK(checked == spec.num_params());
}

TEST_CASE("element positions end the over-invariance: a reordering of a neuron's inputs changes the code") {
  torch::manual_seed(5);
  Nets nets;
  nets.add(test::mlp_spec("mlp", 6, 2, 1), 1.0f);  // l0.weight [2, 6]: each row is two chunks of 3
  const zoo::ArchitectureSpec spec = nets.specs[0];  // a copy: nets.specs grows below
  // [a b c d e f] -> [d e f a b c] in every row: the inputs are read in another order (another function), but the
  // chunks of l0.weight form the same set, as in the paper's review example.
  std::vector<float> reordered = nets.params[0];
  const int64_t w = spec.find_tensor("l0.weight")->offset;
  for (int64_t row = 0; row < 2; ++row)
    for (int64_t k = 0; k < 6; ++k)
      reordered[static_cast<std::size_t>(w + row * 6 + (k + 3) % 6)] = nets.params[0][static_cast<std::size_t>(w + row * 6 + k)];
  nets.specs.push_back(spec);
  nets.params.push_back(reordered);
  // The true symmetry, for comparison: hidden units 0 and 1 swapped with the output layer's inputs.
  std::vector<float> swapped = nets.params[0];
  const int64_t b = spec.find_tensor("l0.bias")->offset, w1 = spec.find_tensor("l1.weight")->offset;
  for (int64_t row = 0; row < 2; ++row) {
    for (int64_t k = 0; k < 6; ++k)
      swapped[static_cast<std::size_t>(w + (1 - row) * 6 + k)] = nets.params[0][static_cast<std::size_t>(w + row * 6 + k)];
    swapped[static_cast<std::size_t>(b + 1 - row)] = nets.params[0][static_cast<std::size_t>(b + row)];
    swapped[static_cast<std::size_t>(w1 + 1 - row)] = nets.params[0][static_cast<std::size_t>(w1 + row)];
  }
  nets.specs.push_back(spec);
  nets.params.push_back(swapped);

  torch::NoGradGuard no_grad;
  SNEEncoder sets(small(3));
  const torch::Tensor zs = sets->forward(nets.input(3));
  CHECK(close(zs[0], zs[1]));  // over-invariant: blind to the reordering
  CHECK(close(zs[0], zs[2]));  // and invariant to the true symmetry, by construction
  EncoderOptions o = small(3);
  o.element_positions = true;
  SNEEncoder placed(o);
  const torch::Tensor zp = placed->forward(nets.input(3));
  // At initialisation codes of different networks are close (pooling four levels deep); measured here: the set
  // encoder's codes of the reordering differ by 1.5e-7 (float rounding), the placed encoder's by 2.7e-4.
  const auto gap = [](const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); };
  CHECK(gap(zs[0], zs[1]) < 1e-6);
  CHECK(gap(zp[0], zp[1]) > 2e-5);  // tells the two functions apart, 100x above rounding
  CHECK(gap(zp[0], zp[2]) > 2e-5);  // the true symmetry is no longer built in: the regulariser teaches it
}

TEST_CASE("element positions: the chunk budget changes nothing, and every parameter learns") {
  torch::manual_seed(6);
  Nets nets;
  for (int i = 0; i < 3; ++i) nets.add(test::cnn_spec(), 1.0f);
  nets.add(test::mlp_spec("mlp", 2, 4, 1), 1.0f);
  EncoderOptions o = small(4);
  o.element_positions = true;  // with fused_kernels at its default: the composition runs stage 1
  SNEEncoder all(o);
  o.chunk_budget = 5;
  SNEEncoder sliced(o);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : sliced->named_parameters()) p.value().copy_(all->named_parameters()[p.key()]);
  }
  REQUIRE(all->named_parameters().contains("element_proj.weight"));
  const EncoderInput in = nets.input(4);
  REQUIRE(in.chunks.values.size(0) > 4 * 5);  // several slices
  const torch::Tensor w = torch::randn({4, 16});
  const torch::Tensor za = all->forward(in), zs = sliced->forward(in);
  CHECK(close(za, zs));
  (za * w).sum().backward();
  (zs * w).sum().backward();
  for (auto& p : sliced->named_parameters()) {
    INFO(p.key());
    const torch::Tensor ga = all->named_parameters()[p.key()].grad();
    REQUIRE(ga.defined());
    REQUIRE(p.value().grad().defined());
    CHECK(close(p.value().grad(), ga, 1e-4));
  }
  CHECK(all->named_parameters()["element_proj.weight"].grad().abs().sum().item<double>() > 0);
}
