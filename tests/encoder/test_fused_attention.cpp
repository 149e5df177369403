// The hand-written attention kernel (lib/encoder/fused/attention_kernel.h) against the LibTorch composition of
// AttentionImpl: the same outputs and the same gradients for the inputs and every parameter, within a relative
// 1e-5 in float32, over the set shapes the tensor, layer and network stages produce.
#include <ATen/Parallel.h>

#include "torch_catch.h"

#include "encoder/fused/attention_kernel.h"
#include "encoder/fused/fused_attention.h"
#include "encoder/set_blocks.h"

using namespace sne::encoder;

namespace {

double relative_gap(const torch::Tensor& fast, const torch::Tensor& ref) {
  const double scale = ref.abs().max().item<double>();
  return (fast - ref).abs().max().item<double>() / (scale > 0 ? scale : 1.0);
}

template <class M>
void copy_parameters(M& to, const M& from) {
  torch::NoGradGuard no_grad;
  for (auto& p : to->named_parameters()) p.value().copy_(from->named_parameters()[p.key()]);
}

struct Result {
  torch::Tensor out, gq, gkv;
  std::map<std::string, torch::Tensor> grads;
};

Result run(Attention& att, const torch::Tensor& q, const torch::Tensor& kv, const torch::Tensor& mask,
           const torch::Tensor& w) {
  att->zero_grad();
  const torch::Tensor qi = q.clone().requires_grad_(true), ki = kv.clone().requires_grad_(true);
  Result r;
  r.out = att->forward(qi, ki, mask);
  (r.out * w).sum().backward();
  r.gq = qi.grad();
  r.gkv = ki.grad();
  for (auto& p : att->named_parameters()) r.grads[p.key()] = p.value().grad().clone();
  return r;
}

// Mask patterns: all real, padding at the end, padding in the middle, one set entirely padding.
torch::Tensor make_mask(int64_t b, int64_t lk, int pattern) {
  if (pattern == 0) return {};
  torch::Tensor m = torch::ones({b, lk}, torch::kBool);
  for (int64_t i = 0; i < b; ++i) {
    const int64_t real = 1 + (i * 7) % lk;
    if (pattern == 1) m[i].narrow(0, real, lk - real).fill_(false);
    if (pattern == 2) m[i] = torch::rand({lk}) > 0.4;
  }
  if (pattern == 2) m[0].fill_(false);
  return m;
}

}  // namespace

TEST_CASE("fused attention gives the composition's outputs and gradients") {
  torch::manual_seed(21);
  struct Case {
    int64_t b, lq, lk, dim, heads;
  };
  // SAB sets (Lq = Lk) and PMA (Lq = 1); lengths below, at and above a 16-lane block; heads of 4 to 32 wide.
  for (const Case c : {Case{6, 5, 5, 16, 4}, Case{4, 1, 37, 16, 4}, Case{3, 16, 16, 32, 4}, Case{2, 200, 200, 32, 4},
                       Case{5, 1, 2, 32, 1}, Case{3, 33, 33, 64, 2}, Case{2, 7, 19, 32, 8}}) {
    for (int pattern : {0, 1, 2}) {
      INFO("B " << c.b << " Lq " << c.lq << " Lk " << c.lk << " d " << c.dim << " heads " << c.heads << " mask "
                << pattern);
      Attention ref(c.dim, c.heads, false), fused(c.dim, c.heads, true);
      copy_parameters(fused, ref);
      const torch::Tensor q = torch::randn({c.b, c.lq, c.dim}), kv = torch::randn({c.b, c.lk, c.dim});
      const torch::Tensor mask = make_mask(c.b, c.lk, pattern);
      const torch::Tensor w = torch::randn({c.b, c.lq, c.dim});
      const Result r = run(ref, q, kv, mask, w), f = run(fused, q, kv, mask, w);
      CHECK(relative_gap(f.out, r.out) < 1e-5);
      CHECK(relative_gap(f.gq, r.gq) < 1e-5);
      CHECK(relative_gap(f.gkv, r.gkv) < 1e-5);
      for (const auto& [name, g] : r.grads) {
        INFO(name);
        if (name == "wk.bias") {  // gradient-free: softmax ignores a constant added to every score
          CHECK(f.grads.at(name).abs().max().item<double>() <=
                1e-5 * r.grads.at("wk.weight").abs().max().item<double>());
          continue;
        }
        CHECK(relative_gap(f.grads.at(name), g) < 1e-5);
      }
      if (pattern == 2) {  // the set with no real key: the output projection of zeros, no gradient into its keys
        CHECK(torch::equal(f.out[0], r.out[0]));
        CHECK(f.gkv[0].abs().max().item<double>() == 0);
      }
    }
  }
}

// The kernel's own results on one thread and on two. (The module around it is not compared: its projections
// are LibTorch products, and how OpenBLAS splits a product over threads changes its rounding on some CPUs, e.g.
// AVX-512 EPYCs.)
TEST_CASE("the attention kernel is the same on one thread and on two, run after run") {
  torch::manual_seed(22);
  kernels::AttentionShape sh;
  sh.sets = 9, sh.heads = 4, sh.queries = 40, sh.keys = 40, sh.dim = 32;
  const torch::Tensor q = torch::randn({9, 40, 32}), k = torch::randn({9, 40, 32}), v = torch::randn({9, 40, 32});
  const torch::Tensor gout = torch::randn({9, 40, 32});
  const torch::Tensor mask = make_mask(9, 40, 1).to(torch::kUInt8).contiguous();
  struct Out {
    torch::Tensor out, stats, gq, gk, gv;
  };
  const auto once = [&] {
    Out o{torch::empty({9, 40, 32}), torch::empty({9, 4, 40, 2}), torch::empty({9, 40, 32}), torch::empty({9, 40, 32}),
          torch::empty({9, 40, 32})};
    kernels::attention_forward(sh, q.data_ptr<float>(), k.data_ptr<float>(), v.data_ptr<float>(),
                               mask.data_ptr<uint8_t>(), o.out.data_ptr<float>(), o.stats.data_ptr<float>());
    kernels::attention_backward(sh, q.data_ptr<float>(), k.data_ptr<float>(), v.data_ptr<float>(),
                                mask.data_ptr<uint8_t>(), o.stats.data_ptr<float>(), gout.data_ptr<float>(),
                                o.gq.data_ptr<float>(), o.gk.data_ptr<float>(), o.gv.data_ptr<float>());
    return o;
  };
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const Out one = once();
  at::set_num_threads(2);
  const Out two = once(), again = once();
  at::set_num_threads(threads);
  for (const Out* r : {&two, &again}) {
    CHECK(torch::equal(r->out, one.out));
    CHECK(torch::equal(r->stats, one.stats));
    CHECK(torch::equal(r->gq, one.gq));
    CHECK(torch::equal(r->gk, one.gk));
    CHECK(torch::equal(r->gv, one.gv));
  }
}

TEST_CASE("fused attention leaves other dtypes to the composition and rejects inconsistent shapes") {
  Attention fused(16, 4, true);
  fused->to(torch::kDouble);
  const torch::Tensor q = torch::randn({2, 3, 16}, torch::kDouble);
  CHECK(fused->forward(q, q, {}).scalar_type() == torch::kDouble);
  const torch::Tensor x = torch::randn({2, 3, 16});
  CHECK_THROWS_WITH(fused_attention(x, x, x, torch::ones({2, 4}, torch::kBool), 4),
                    Catch::Matchers::Contains("key_mask must be [B, Lk]"));
  CHECK_THROWS_WITH(fused_attention(x, torch::randn({2, 3, 8}), torch::randn({2, 3, 8}), {}, 4),
                    Catch::Matchers::Contains("d a multiple of heads"));
  CHECK_THROWS_WITH(fused_attention(x.to(torch::kDouble), x, x, {}, 4), Catch::Matchers::Contains("float32 CPU"));
}
