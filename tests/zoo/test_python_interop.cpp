// sne -> Python: a zoo written by ZooWriter is read by data-scripts/sne_zoo.py (plain h5py).
#include "sne_catch.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "fixtures.h"

using namespace sne;

TEST_CASE("a zoo written by sne is read identically by the Python reader") {
  test::TempDir dir;
  const std::string path = dir.file("z.h5");
  test::write_zoo(path, 12);
  const std::string out = dir.file("dump.json");
  const std::string cmd = std::string(SNE_PYTHON) + " " + SNE_SOURCE_DIR + "/data-scripts/sne_zoo.py dump " +
                          path + " > " + out;
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::stringstream text;
  text << std::ifstream(out).rdbuf();
  const Json dump = Json::parse(text.str());
  CHECK(dump.at("format_version").as_int() == 1);
  CHECK(zoo::ArchitectureSpec::from_json(dump.at("architectures").as_array()[1]) == test::cnn_spec());
  const auto& nets = dump.at("networks").as_array();
  REQUIRE(nets.size() == 12);
  for (const auto& n : nets) {
    const int64_t i = n.at("index").as_int();
    CHECK(n.at("architecture").as_string() == (i % 2 ? "tiny_cnn" : "mlp"));
    const auto& p = n.at("params").as_array();
    for (std::size_t k = 0; k < p.size(); ++k)
      REQUIRE(static_cast<float>(p[k].as_number()) == test::weight_value(i, static_cast<int64_t>(k)));
    CHECK(n.at("properties").at("accuracy").as_number() == Approx(double(i) / 12));
    CHECK(n.at("properties").at("late").is_null() == (i < 6));
    CHECK(n.at("metadata").at("dataset").as_string() == (i % 3 ? "mnist" : "fashion"));
  }
  CHECK(dump.at("splits").at("test").size() == 2);
  CHECK(dump.at("provenance").at("kind").as_string() == "manual");
}
