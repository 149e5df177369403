// The hand-written chunk-stage kernel (lib/encoder/fused) against the LibTorch composition it replaces on the
// CPU: the same codes and the same gradient for every parameter, within a relative 1e-5 in float32.
#include <ATen/Parallel.h>

#include "torch_catch.h"

#include "encoder/sne_encoder.h"
#include "zoo/fixtures.h"

using namespace sne;
using namespace sne::encoder;

namespace {

// Largest difference relative to the reference's largest magnitude.
double relative_gap(const torch::Tensor& fast, const torch::Tensor& ref) {
  const double scale = ref.abs().max().item<double>();
  return (fast - ref).abs().max().item<double>() / (scale > 0 ? scale : 1.0);
}

struct Batch {
  std::vector<zoo::ArchitectureSpec> specs;
  std::vector<std::vector<float>> params;
  void add(const zoo::ArchitectureSpec& s, float scale) {
    specs.push_back(s);
    const torch::Tensor p = torch::randn({s.num_params()}) * scale;
    params.emplace_back(p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
  }
  EncoderInput input(int64_t chunk) const {
    std::vector<const zoo::ArchitectureSpec*> a;
    std::vector<const float*> p;
    for (std::size_t i = 0; i < specs.size(); ++i) a.push_back(&specs[i]), p.push_back(params[i].data());
    return build_input(a, p, chunk, torch::kCPU);
  }
};

// The fused (chunk stage and attention kernels) and the reference encoder with the same weights (the seeds of
// the PMA perturbed so every path of the kernel carries a signal).
std::pair<SNEEncoder, SNEEncoder> fused_and_reference(EncoderOptions o) {
  o.fused_kernels = o.blocks.fused_attention = true;
  SNEEncoder fused(o);
  o.fused_kernels = o.blocks.fused_attention = false;
  SNEEncoder ref(o);
  torch::NoGradGuard no_grad;
  for (auto& p : fused->named_parameters()) {
    p.value().add_(torch::randn_like(p.value()) * 0.05);  // LayerNorm weights away from 1, biases away from 0
    ref->named_parameters()[p.key()].copy_(p.value());
  }
  return {fused, ref};
}

bool in_stage1(const std::string& name) {
  for (const char* prefix : {"value_proj.", "phi1_", "phi2_", "gamma_chunk."})
    if (name.rfind(prefix, 0) == 0) return true;
  return false;
}

// The chunk stage itself: its codes and the gradient of each of its parameters within a relative 1e-5. The key
// bias of an attention is exactly gradient-free (softmax ignores a constant added to every score); both paths
// must give it nothing but rounding noise. Stages 2-4 run the same LibTorch code on both sides; the whole
// encoder is compared too: the same codes within 1e-5, and gradients within the 1e-3 that float32 allows once
// the attention gradients of stages 2-4 (differences of nearly equal terms) amplify stage 1's 1e-7 rounding
// (measured: up to 8e-4 on the query/key weights of the network stage, 24 networks).
void check_equal(const EncoderOptions& o, const Batch& batch) {
  auto [fused, ref] = fused_and_reference(o);
  const EncoderInput in = batch.input(o.chunk_size);
  {
    const torch::Tensor cf = fused->chunk_vectors(in), cr = ref->chunk_vectors(in);
    CHECK(relative_gap(cf, cr) < 1e-5);
    const torch::Tensor w = torch::randn_like(cr);
    (cf * w).sum().backward();
    (cr * w).sum().backward();
    int64_t compared = 0;
    double scale = 0;
    for (auto& p : ref->named_parameters())
      if (in_stage1(p.key())) scale = std::max(scale, p.value().grad().abs().max().item<double>());
    for (auto& p : fused->named_parameters()) {
      if (!in_stage1(p.key())) continue;
      INFO(p.key());
      const torch::Tensor gf = p.value().grad(), gr = ref->named_parameters()[p.key()].grad();
      REQUIRE(gf.defined());
      REQUIRE(gr.defined());
      if (p.key().find("att.wk.bias") != std::string::npos) {
        CHECK(gf.abs().max().item<double>() < 1e-5 * scale);
        CHECK(gr.abs().max().item<double>() < 1e-5 * scale);
      } else {
        CHECK(relative_gap(gf, gr) < 1e-5);
        if (o.chunk_size > 1) CHECK(gr.abs().max().item<double>() > 0);  // a set of one: attention is constant
      }
      ++compared;
    }
    CHECK(compared == 2 + 4 * 16 + 19);  // value projection, four SABs, the PMA
  }
  fused->zero_grad();
  ref->zero_grad();
  const torch::Tensor zf = fused->forward(in), zr = ref->forward(in);
  CHECK(relative_gap(zf, zr) < 1e-5);
  const torch::Tensor w = torch::randn_like(zr);
  (zf * w).sum().backward();
  (zr * w).sum().backward();
  // The whole encoder's gradients against the composition in float64. Per parameter, the float32 rounding of the
  // attention gradients of stages 2-4 (differences of nearly equal terms, tiny sets here) amplifies 1e-7 to 1e-3 on
  // the query and key weights of the small stages, on both float32 paths and differently on each; over the whole
  // gradient the kernels must be as close to the float64 truth as the composition is.
  EncoderOptions composition = o;
  composition.fused_kernels = composition.blocks.fused_attention = false;
  SNEEncoder exact(composition);
  {
    torch::NoGradGuard no_grad;
    exact->to(torch::kDouble);
    for (auto& p : exact->named_parameters()) p.value().copy_(ref->named_parameters()[p.key()]);
  }
  EncoderInput in64 = in;
  in64.chunks.values = in.chunks.values.to(torch::kDouble);
  const torch::Tensor z64 = exact->forward(in64);
  (z64 * w.to(torch::kDouble)).sum().backward();
  std::vector<torch::Tensor> gf, gr, g64;
  for (auto& p : fused->named_parameters()) {
    if (p.key().find("att.wk.bias") != std::string::npos) continue;
    gf.push_back(p.value().grad().flatten().to(torch::kDouble));
    gr.push_back(ref->named_parameters()[p.key()].grad().flatten().to(torch::kDouble));
    g64.push_back(exact->named_parameters()[p.key()].grad().flatten());
  }
  const torch::Tensor truth = torch::cat(g64);
  const double truth_norm = truth.norm().item<double>();
  const double fused_error = (torch::cat(gf) - truth).norm().item<double>() / truth_norm;
  const double ref_error = (torch::cat(gr) - truth).norm().item<double>() / truth_norm;
  INFO("gradient error against float64: kernels " << fused_error << ", composition " << ref_error);
  CHECK(fused_error <= std::max(2 * ref_error, 1e-6));
}

}  // namespace

TEST_CASE("the fused chunk stage gives the composition's codes and gradients") {
  torch::manual_seed(11);
  Batch batch;
  batch.add(test::mlp_spec("mlp", 2, 4, 1), 1.0f);
  batch.add(test::cnn_spec(), 0.5f);
  batch.add(test::mlp_spec("wide", 3, 16, 2), 2.0f);
  EncoderOptions o;
  o.blocks.dim = 16;
  o.blocks.heads = 4;
  for (int64_t chunk : {1, 3, 8, 32}) {
    INFO("chunk size " << chunk);
    o.chunk_size = chunk;
    check_equal(o, batch);
  }
  SECTION("linear value embedding, PMA without the seed residual, no encodings") {
    o.chunk_size = 5;
    o.value_embedding = "linear";
    o.blocks.pma_seed_residual = false;
    o.level_encoding = o.type_encoding = false;
    check_equal(o, batch);
  }
  SECTION("wider blocks, two heads, feed-forward 4x") {
    o.chunk_size = 9;
    o.blocks.dim = 32;
    o.blocks.heads = 2;
    o.blocks.ff_mult = 4;
    check_equal(o, batch);
  }
}

TEST_CASE("the fused chunk stage splits many chunks into tiles and threads, the same as the composition") {
  torch::manual_seed(12);
  Batch batch;
  for (int i = 0; i < 24; ++i) batch.add(test::cnn_spec(), 1.0f);
  EncoderOptions o;
  o.blocks.dim = 16;
  o.chunk_size = 4;
  REQUIRE(batch.input(4).chunks.values.size(0) * 4 > 2 * 512);  // several tiles of 512 rows
  const int threads = at::get_num_threads();
  for (int t : {1, 2}) {
    at::set_num_threads(t);
    check_equal(o, batch);
  }
  // Run to run, the same thread count gives bit-identical codes and gradients.
  auto [a, b] = fused_and_reference(o);
  const EncoderInput in = batch.input(4);
  const torch::Tensor z1 = a->forward(in), z2 = a->forward(in);
  CHECK(torch::equal(z1, z2));
  at::set_num_threads(threads);
}

TEST_CASE("post-LN blocks and the no-set-functions ablation fall back to the composition") {
  torch::manual_seed(13);
  Batch batch;
  batch.add(test::cnn_spec(), 1.0f);
  EncoderOptions o;
  o.blocks.dim = 16;
  o.chunk_size = 4;
  o.blocks.pre_ln = false;
  auto [fused, ref] = fused_and_reference(o);
  const EncoderInput in = batch.input(4);
  // Stage 1 runs the composition on both sides; only their attention differs (the kernel and the composition).
  CHECK(relative_gap(fused->chunk_vectors(in), ref->chunk_vectors(in)) < 1e-5);
  CHECK(relative_gap(fused->forward(in), ref->forward(in)) < 1e-5);
}

TEST_CASE("the chunk budget groups stage 2 and slices long attention without changing codes or gradients") {
  torch::manual_seed(14);
  Batch batch;
  batch.add(test::mlp_spec("wide", 3, 16, 2), 1.0f);  // 16x16 hidden weights: 32 chunks of 8
  batch.add(test::cnn_spec(), 1.0f);
  batch.add(test::mlp_spec("wide", 3, 16, 2), 0.5f);
  EncoderOptions o;
  o.blocks.dim = 16;
  o.chunk_size = 8;
  o.chunk_budget = 0;
  auto [fused, whole] = fused_and_reference(o);  // the composition: its slices of long sets are tested here
  EncoderOptions bounded = o;
  bounded.fused_kernels = false;
  bounded.chunk_budget = 40;  // several groups; the 32-chunk tensors alone or nearly so
  SNEEncoder grouped(bounded);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : grouped->named_parameters()) p.value().copy_(whole->named_parameters()[p.key()]);
  }
  const EncoderInput in = batch.input(8);
  const torch::Tensor za = whole->forward(in);  // no groups, no slices
  const torch::Tensor w = torch::randn_like(za);
  (za * w).sum().backward();
  for (const bool slice_attention : {false, true}) {
    INFO("long-set attention in slices: " << slice_attention);
    const int64_t limit = slice_attention ? set_max_attention_scores(50) : 0;  // every stage-2 set is "long"
    grouped->zero_grad();
    const torch::Tensor zb = grouped->forward(in);
    (zb * w).sum().backward();
    if (slice_attention) set_max_attention_scores(limit);
    CHECK(relative_gap(zb, za) < 1e-5);
    for (auto& p : grouped->named_parameters()) {
      INFO(p.key());
      if (p.key().find("att.wk.bias") != std::string::npos) continue;  // gradient-free (see above)
      CHECK(relative_gap(p.value().grad(), whole->named_parameters()[p.key()].grad()) < 1e-5);
    }
  }
}
