#include "sne_catch.h"

#include "core/strings.h"
#include "fixtures.h"
#include "zoo/symmetry.h"

using namespace sne;

TEST_CASE("architecture spec round-trips through JSON with offsets") {
  const auto a = test::cnn_spec();
  const auto back = zoo::ArchitectureSpec::from_json(Json::parse(a.to_json().dump()));
  CHECK(back == a);
  CHECK(back.num_params() == 2 * 9 + 2 + 3 * 8 + 3);
  CHECK(back.find_tensor("fc.weight")->offset == 20);
  CHECK(back.symmetries[0].actions[2].block == 4);
  CHECK(back.problems().empty());
}

TEST_CASE("architecture spec problems name what is wrong") {
  auto a = test::mlp_spec("m", 2, 4, 1);
  a.symmetries[0].actions.push_back({"nope.weight", 0, 0, 1});
  a.symmetries[0].actions.push_back({"l1.weight", 2, 0, 1});
  a.symmetries[0].actions.push_back({"l1.bias", 0, 0, 2});  // 4 units of 2 exceed length 1
  auto dup = test::mlp_spec("d", 2, 4, 1);
  dup.layers[1].tensors[1].name = "l0.bias";
  dup.symmetries.clear();
  const auto p = a.problems();
  CHECK_THAT(join(dup.problems()), Catch::Contains("tensor name 'l0.bias' is used twice"));
  const std::string all = join(p, "\n");
  CHECK_THAT(all, Catch::Contains("unknown tensor 'nope.weight'"));
  CHECK_THAT(all, Catch::Contains("axis 2 is out of range"));
  CHECK_THAT(all, Catch::Contains("exceeds axis 0 of tensor 'l1.bias'"));
}

TEST_CASE("malformed spec JSON reports the member path") {
  auto j = Json::parse(test::mlp_spec("m", 2, 4, 1).to_json().dump());
  const std::string text = j.dump();
  const std::string bad = text.substr(0, text.find("\"linear\"")) + "\"lstm\"" +
                          text.substr(text.find("\"linear\"") + 8);
  CHECK_THROWS_WITH(zoo::ArchitectureSpec::from_json(Json::parse(bad)),
                    Catch::Contains("layers[0].kind") && Catch::Contains("unknown layer kind 'lstm'"));
  CHECK_THROWS_WITH(zoo::ArchitectureSpec::from_json(Json::parse("{\"name\": \"x\"}")), Catch::Contains("layers"));
}

TEST_CASE("a flatten->linear symmetry moves whole channel blocks of columns") {
  const auto a = test::cnn_spec();  // conv 2 channels of 2x2 outputs -> flatten (8) -> fc 3x8
  std::vector<float> p(static_cast<std::size_t>(a.num_params()));
  for (std::size_t k = 0; k < p.size(); ++k) p[k] = static_cast<float>(k);
  std::vector<float> q = p;
  zoo::permute_units(a, 0, {1, 0}, q.data());
  const auto* conv = a.find_tensor("conv.weight");
  const auto* fc = a.find_tensor("fc.weight");
  // Channel 0's kernel (9 values) now sits at channel 1, and vice versa.
  CHECK(q[static_cast<std::size_t>(conv->offset + 9)] == p[static_cast<std::size_t>(conv->offset)]);
  CHECK(q[static_cast<std::size_t>(conv->offset)] == p[static_cast<std::size_t>(conv->offset + 9)]);
  // In every row of fc.weight, columns 0-3 (channel 0) and 4-7 (channel 1) swap as blocks.
  for (int row = 0; row < 3; ++row)
    for (int j = 0; j < 4; ++j) {
      CHECK(q[static_cast<std::size_t>(fc->offset + row * 8 + 4 + j)] == p[static_cast<std::size_t>(fc->offset + row * 8 + j)]);
      CHECK(q[static_cast<std::size_t>(fc->offset + row * 8 + j)] == p[static_cast<std::size_t>(fc->offset + row * 8 + 4 + j)]);
    }
  CHECK(q[static_cast<std::size_t>(a.find_tensor("fc.bias")->offset)] == p[static_cast<std::size_t>(a.find_tensor("fc.bias")->offset)]);
  CHECK_THROWS_AS(zoo::permute_units(a, 0, {0, 1, 2}, q.data()), std::invalid_argument);
}
