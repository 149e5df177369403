#include <catch2/catch.hpp>

#include "core/strings.h"
#include "fixtures.h"

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
