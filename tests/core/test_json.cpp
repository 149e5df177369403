#include "sne_catch.h"

#include <cmath>

#include "core/json.h"

using sne::Json;

TEST_CASE("json round-trips nested values through text") {
  Json j = Json::object();
  j.set("name", "siren");
  j.set("shape", Json(Json::Array{Json(32), Json(1)}));
  j.set("w0", 30.0);
  j.set("tiny", 1e-15);
  j.set("flag", true);
  j.set("none", Json());
  j.set("text", "quote \" backslash \\ newline \n tab \t");
  for (int indent : {-1, 2}) {
    const Json back = Json::parse(j.dump(indent));
    CHECK(back == j);
  }
  CHECK(Json::parse("{\"b\":1,\"a\":2}").as_object().front().first == "b");  // insertion order kept
}

TEST_CASE("json numbers keep full double precision and NaN") {
  const double v = 0.1f;  // a float widened to double must come back bit-exact
  CHECK(Json::parse(Json(v).dump()).as_number() == v);
  CHECK(std::isnan(Json::parse(Json(std::nan("")).dump()).as_number()));
  CHECK(Json::parse("-2.5e3").as_number() == -2500.0);
}

TEST_CASE("json parse errors carry line and column") {
  try {
    Json::parse("{\n  \"a\": 1,\n  \"b\" 2\n}");
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("3:") != std::string::npos);
  }
  CHECK_THROWS(Json::parse("[1, 2"));
  CHECK_THROWS(Json::parse("\"unterminated"));
  CHECK_THROWS(Json::parse("{} extra"));
  CHECK_THROWS(Json::parse(""));
}

TEST_CASE("json typed access names the mismatch") {
  const Json j = Json::parse("{\"n\": 1.5, \"s\": \"x\"}");
  CHECK_THROWS_WITH(j.at("s").as_number(), Catch::Contains("expected a number, found a string"));
  CHECK_THROWS_WITH(j.at("n").as_int(), Catch::Contains("expected an integer"));
  CHECK_THROWS_WITH(j.at("missing"), Catch::Contains("missing member 'missing'"));
  CHECK(j.find("missing") == nullptr);
}
