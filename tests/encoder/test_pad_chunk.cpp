#include "torch_catch.h"

#include "encoder/encoder_input.h"
#include "encoder/pad_chunk.h"
#include "zoo/fixtures.h"

using namespace sne;
using namespace sne::encoder;

TEST_CASE("pad-chunk keeps neuron-major order, pads with masked zeros, and unpads exactly") {
  const at::Tensor w = at::arange(12, at::kFloat).view({3, 4});  // 3 neurons x 4 inputs
  const at::Tensor b = at::arange(3, at::kFloat) + 100;
  const at::Tensor empty = at::zeros({0});
  const Chunks c = pad_chunk({w.reshape({-1}), b, empty}, 5);
  REQUIRE(c.values.size(0) == 4);  // 12 -> 3 chunks, 3 -> 1 chunk, 0 -> none
  REQUIRE(c.values.size(1) == 5);
  CHECK(c.first_chunk == std::vector<int64_t>({0, 3, 4, 4}));
  CHECK(c.values[0][4].item<float>() == 4);                  // row-major: neuron 1 starts at element 4
  CHECK(c.values[2][1].item<float>() == 11);
  CHECK(c.values[2][2].item<float>() == 0);                  // padding is zero ...
  CHECK_FALSE(c.mask[2][2].item<bool>());                    // ... and masked
  CHECK(c.mask.sum().item<int64_t>() == 15);
  CHECK(c.owner.equal(at::tensor({0, 0, 0, 1}, at::kLong)));
  const auto back = unpad(c);
  CHECK(back[0].equal(w.reshape({-1})));
  CHECK(back[1].equal(b));
  CHECK(back[2].numel() == 0);
  CHECK_THROWS_AS(pad_chunk({b}, 0), std::invalid_argument);
}

TEST_CASE("a chunk size that divides the rows keeps each neuron in one chunk") {
  const at::Tensor w = at::randn({8, 32});
  const Chunks c = pad_chunk({w.reshape({-1})}, 32);
  REQUIRE(c.values.size(0) == 8);
  CHECK(c.values.equal(w));
  CHECK(c.mask.all().item<bool>());
}

TEST_CASE("the batch packer reuses each architecture's layout and packs what pad-chunk packs") {
  const zoo::ArchitectureSpec mlp = test::mlp_spec("mlp", 2, 5, 1), cnn = test::cnn_spec();
  std::vector<std::vector<float>> params;
  for (const auto* s : {&mlp, &cnn, &mlp}) {
    const torch::Tensor p = torch::randn({s->num_params()});
    params.emplace_back(p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
  }
  std::vector<const zoo::ArchitectureSpec*> archs{&mlp, &cnn, &mlp};
  std::vector<const float*> rows{params[0].data(), params[1].data(), params[2].data()};
  BatchPacker packer(3);
  for (int again = 0; again < 2; ++again) {  // the second batch comes from the cached layouts
    const EncoderInput in = packer.pack(archs, rows, torch::kCPU);
    std::vector<at::Tensor> flat;
    for (std::size_t n = 0; n < archs.size(); ++n)
      for (const auto& l : archs[n]->layers)
        for (const auto& t : l.tensors)
          flat.push_back(torch::from_blob(const_cast<float*>(rows[n] + t.offset), {t.numel()}, torch::kFloat));
    const Chunks ref = pad_chunk(flat, 3);
    CHECK(torch::equal(in.chunks.values, ref.values));
    CHECK(torch::equal(in.chunks.mask, ref.mask));
    CHECK(torch::equal(in.chunks.owner, ref.owner));
    CHECK(torch::equal(in.chunks.lengths, ref.lengths));
    CHECK(in.chunks.first_chunk == ref.first_chunk);
    CHECK(in.layer_network == std::vector<int64_t>{0, 0, 1, 1, 2, 2});
    CHECK(in.tensor_layer.size() == flat.size());
  }
}
