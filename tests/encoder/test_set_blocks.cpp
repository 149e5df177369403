#include "torch_catch.h"


#include "encoder/set_blocks.h"

using namespace sne::encoder;

namespace {
SetBlockOptions opts(bool pre_ln, bool fused = false) {
  SetBlockOptions o;
  o.fused_attention = fused;
  o.dim = 16;
  o.heads = 4;
  o.pre_ln = pre_ln;
  return o;
}
bool close(const torch::Tensor& a, const torch::Tensor& b) { return torch::allclose(a, b, 1e-5, 1e-5); }
}  // namespace

TEST_CASE("SAB is permutation equivariant and PMA permutation invariant, pre-LN and post-LN") {
  torch::manual_seed(0);
  for (bool pre_ln : {true, false}) {
    SAB sab(opts(pre_ln));
    PMA pma(opts(pre_ln));
    const torch::Tensor x = torch::randn({3, 7, 16});
    const torch::Tensor perm = torch::randperm(7);
    const torch::Tensor y = sab->forward(x, {});
    CHECK(close(sab->forward(x.index_select(1, perm), {}), y.index_select(1, perm)));
    CHECK(close(pma->forward(x.index_select(1, perm), {}), pma->forward(x, {})));
    CHECK(pma->forward(x, {}).size(1) == 16);
  }
}

TEST_CASE("padding never influences the result") {
  torch::manual_seed(1);
  const bool fused = GENERATE(false, true);
  INFO("fused attention " << fused);
  SAB sab(opts(true, fused));
  PMA pma(opts(true, fused));
  const torch::Tensor x = torch::randn({2, 5, 16});
  const torch::Tensor junk = torch::randn({2, 3, 16}) * 100;  // padded rows full of garbage
  const torch::Tensor padded = torch::cat({x, junk}, 1);
  const torch::Tensor mask = torch::cat({torch::ones({2, 5}, torch::kBool), torch::zeros({2, 3}, torch::kBool)}, 1);
  const torch::Tensor y = sab->forward(padded, mask);
  CHECK(close(y.narrow(1, 0, 5), sab->forward(x, {})));
  CHECK(y.narrow(1, 5, 3).abs().max().item<float>() == 0);
  CHECK(close(pma->forward(padded, mask), pma->forward(x, {})));
}

TEST_CASE("a set that is all padding gives finite outputs") {
  const bool fused = GENERATE(false, true);
  INFO("fused attention " << fused);
  SAB sab(opts(true, fused));
  PMA pma(opts(true, fused));
  const torch::Tensor x = torch::randn({2, 4, 16});
  const torch::Tensor mask = torch::tensor({{1, 1, 0, 0}, {0, 0, 0, 0}}, torch::kBool);
  CHECK(torch::isfinite(sab->forward(x, mask)).all().item<bool>());
  CHECK(torch::isfinite(pma->forward(x, mask)).all().item<bool>());
}

TEST_CASE("pre-LN pooling keeps different sets apart at init") {
  // The collapse measured with post-LN blocks: codes of different sets nearly identical after pooling.
  torch::manual_seed(2);
  PMA pma(opts(true));
  const torch::Tensor x = torch::randn({64, 10, 16}) * torch::linspace(0.1, 3, 64).view({64, 1, 1});
  const torch::Tensor z = pma->forward(x, {});
  const double spread = z.var(0).sum().item<double>() / z.pow(2).sum(1).mean().item<double>();
  CHECK(spread > 0.01);
}
