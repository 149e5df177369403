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

TEST_CASE("json numbers keep full double precision; NaN and infinities are unknown (null)") {
  const double v = 0.1f;  // a float widened to double must come back bit-exact
  CHECK(Json::parse(Json(v).dump()).as_number() == v);
  CHECK(Json::parse("-2.5e3").as_number() == -2500.0);
  CHECK(Json(3.0).dump() == "3");
  CHECK(Json(std::nan("")).dump() == "null");  // standard JSON: jq, browsers and Python all read it
  CHECK(Json(-INFINITY).dump() == "null");
  // What Python's json.dumps writes, and earlier sne versions wrote: read as null, not refused.
  const Json py = Json::parse("{\"a\": NaN, \"b\": [Infinity, -Infinity], \"s\": \"NaN stays text\"}");
  CHECK(py.at("a").is_null());
  CHECK(py.at("b").as_array()[1].is_null());
  CHECK(py.at("s").as_string() == "NaN stays text");
}

TEST_CASE("json refuses what fuzzing found, with the documented error") {
  // A \u escape that is not hex was std::invalid_argument ("internal error") in the hand-written parser.
  CHECK_THROWS_AS(Json::parse("[\"\\u12G4\"]"), std::runtime_error);
  CHECK_THROWS_AS(Json::parse("\"\\u"), std::runtime_error);
  CHECK_THROWS_WITH(Json::parse(std::string(100000, '[')), Catch::Contains("nested deeper than 512"));
  CHECK_THROWS_AS(Json::parse("[1e99999999999]"), std::runtime_error);
  // A member given twice keeps the last value, as Python does, in linear time.
  std::string many = "{";
  for (int i = 0; i < 200000; ++i) many += "\"k" + std::to_string(i % 1000) + "\": " + std::to_string(i) + ",";
  many += "\"end\": 0}";
  const Json m = Json::parse(many);
  CHECK(m.size() == 1001);
  CHECK(m.at("k999").as_number() == 199999);
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
