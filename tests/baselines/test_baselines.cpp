#include "torch_catch.h"

#include "baselines/baselines.h"
#include "zoo/fixtures.h"

using namespace sne;

namespace {

struct Batch {
  std::vector<zoo::ArchitectureSpec> specs;
  std::vector<std::vector<float>> params;
  void add(const zoo::ArchitectureSpec& s, const std::vector<float>& p) {
    specs.push_back(s);
    params.push_back(p);
  }
  void add_random(const zoo::ArchitectureSpec& s, float scale) {
    const torch::Tensor p = torch::randn({s.num_params()}) * scale;
    add(s, std::vector<float>(p.data_ptr<float>(), p.data_ptr<float>() + p.numel()));
  }
  encoder::EncoderInput input(int64_t chunk = 3) const {
    std::vector<const zoo::ArchitectureSpec*> a;
    std::vector<const float*> p;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      a.push_back(&specs[i]);
      p.push_back(params[i].data());
    }
    return encoder::build_input(a, p, chunk, torch::kCPU);
  }
};

}  // namespace

TEST_CASE("statnn computes mean, variance and quantiles per tensor, in tensor order, zero-padded") {
  const auto spec = test::mlp_spec("mlp", 2, 4, 1);  // l0.weight [4,2], l0.bias [4], l1.weight [1,4], l1.bias [1]
  std::vector<float> p(static_cast<std::size_t>(spec.num_params()));
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<float>(i);  // tensor k holds consecutive numbers
  Batch b;
  b.add(spec, p);
  b.add(spec, std::vector<float>(p.size(), 2.0f));
  baselines::StatNNImpl statnn(6, 8, 1, 4);
  const torch::Tensor f = statnn.features(b.input(3));  // chunk 3 does not divide the 8-element weight
  REQUIRE(f.sizes() == torch::IntArrayRef({2, 6 * 7}));
  const auto row = [&](int64_t net, int64_t tensor) { return f[net].narrow(0, tensor * 7, 7); };
  // l0.weight = 0..7: mean 3.5, population variance 5.25, quantiles 0, 1.75, 3.5, 5.25, 7.
  CHECK(torch::allclose(row(0, 0), torch::tensor({3.5f, 5.25f, 0.0f, 1.75f, 3.5f, 5.25f, 7.0f})));
  // l0.bias = 8..11
  CHECK(torch::allclose(row(0, 1), torch::tensor({9.5f, 1.25f, 8.0f, 8.75f, 9.5f, 10.25f, 11.0f})));
  CHECK(torch::allclose(row(0, 3), torch::tensor({16.0f, 0.0f, 16.0f, 16.0f, 16.0f, 16.0f, 16.0f})));
  CHECK(torch::allclose(row(1, 2), torch::tensor({2.0f, 0.0f, 2.0f, 2.0f, 2.0f, 2.0f, 2.0f})));
  CHECK(row(0, 4).abs().sum().item<float>() == 0.0f);  // padding for the missing tensors
  CHECK(row(1, 5).abs().sum().item<float>() == 0.0f);
  baselines::StatNNImpl shallow(3, 8, 1, 4);
  CHECK_THROWS_WITH(shallow.features(b.input(3)), Catch::Contains("at most 3 parameter tensors"));
}

TEST_CASE("the mlp baseline reads one architecture and refuses another") {
  torch::manual_seed(0);
  const auto spec = test::mlp_spec("mlp", 2, 4, 1);
  Batch b;
  b.add_random(spec, 1.0f);
  b.add_random(spec, 2.0f);
  baselines::FlatMLPImpl flat(spec.num_params(), 16, 2, 8);
  const torch::Tensor z = flat.forward(b.input(5));
  CHECK(z.sizes() == torch::IntArrayRef({2, 8}));
  // The same networks chunked differently give the same codes: the flat order is the architecture's.
  CHECK(torch::allclose(flat.forward(b.input(3)), z, 1e-5, 1e-6));
  b.add_random(test::mlp_spec("wide", 2, 5, 1), 1.0f);
  CHECK_THROWS_WITH(flat.forward(b.input(3)), Catch::Contains("reads networks of 17 parameters") &&
                                                  Catch::Contains("network 2 of the batch has 21"));
}

TEST_CASE("deepsets gives each network the code it gets alone, and ignores the order of its weights") {
  torch::manual_seed(1);
  Batch b;
  b.add_random(test::mlp_spec("mlp", 2, 4, 1), 1.0f);
  b.add_random(test::cnn_spec(), 0.5f);
  baselines::DeepSetsImpl ds(16, 2, 8);
  const torch::Tensor z = ds.forward(b.input(4));
  for (std::size_t i = 0; i < 2; ++i) {
    Batch one;
    one.add(b.specs[i], b.params[i]);
    CHECK(torch::allclose(ds.forward(one.input(7))[0], z[static_cast<int64_t>(i)], 1e-4, 1e-5));
  }
  // Reversing the elements inside one tensor (same tensor, same level and type) changes nothing.
  Batch reversed;
  std::vector<float> p = b.params[0];
  const auto* t = b.specs[0].find_tensor("l0.weight");
  std::reverse(p.begin() + t->offset, p.begin() + t->offset + t->numel());
  reversed.add(b.specs[0], p);
  CHECK(torch::allclose(ds.forward(reversed.input(4))[0], z[0], 1e-4, 1e-5));
}
