// settings(), to_yaml(), the embedded default file, read_source() and Config equality.
#include <algorithm>
#include "sne_catch.h"

#include <sstream>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/error.h"
#include "core/files.h"

using sne::config::Config;
using sne::config::resolve;
using sne::config::to_yaml;

namespace {

const std::vector<std::string> kKeys = {
    "run.threads",
    "run.seed",
    "run.device",
    "run.log_level",
    "zoo.path",
    "zoo.reader.batch_size",
    "zoo.reader.memory_budget_mb",
    "zoo.reader.shuffle",
    "zoo.reader.prefetch",
};

Config round_trip(const Config& c) { return resolve({{"shown.yaml", to_yaml(c)}}, {}); }

}  // namespace

TEST_CASE("settings() lists every key once, in declaration order, with its description", "[config]") {
  std::vector<std::string> keys;
  for (const auto& s : sne::config::settings()) {
    keys.push_back(s.key);
    CHECK_FALSE(s.help.empty());
  }
  for (const auto& k : kKeys) CHECK(std::find(keys.begin(), keys.end(), k) != keys.end());
  CHECK(std::set<std::string>(keys.begin(), keys.end()).size() == keys.size());

  const auto& all = sne::config::settings();
  auto info = [&](const std::string& key) {
    return *std::find_if(all.begin(), all.end(), [&](const auto& s) { return s.key == key; });
  };
  CHECK(info("run.threads").type == "int");
  CHECK(info("run.threads").check_text == ">= 0");
  CHECK(info("run.device").type == "choice");
  CHECK(info("run.device").default_text == "auto");
  CHECK(info("run.device").check_text == "one of: cpu, cuda, auto");
  CHECK(info("zoo.path").type == "string");
  CHECK(info("zoo.path").default_text == "zoos/sine_demo.h5");
  CHECK(info("zoo.reader.memory_budget_mb").type == "float");
  CHECK(info("zoo.reader.memory_budget_mb").default_text == "256");
  CHECK(info("zoo.reader.memory_budget_mb").check_text == "> 0");
  CHECK(info("zoo.reader.shuffle").type == "bool");
  CHECK(info("zoo.reader.shuffle").default_text == "true");
  CHECK(info("zoo.reader.shuffle").check_text.empty());
}

TEST_CASE("to_yaml nests every setting by section, in declaration order, with help comments", "[config]") {
  const std::string y = to_yaml(sne::config::defaults());
  std::size_t last = 0;
  for (const char* line :
       {"run:\n", "\n  threads: 0 ", "\n  log_level: info ", "\nzoo:\n", "\n  path: zoos/sine_demo.h5 ",
        "\n  reader:\n", "\n    batch_size: 64 ", "\n    memory_budget_mb: 256 ", "\n    prefetch: true "}) {
    INFO(line);
    const std::size_t at = y.find(line);
    REQUIRE(at != std::string::npos);
    CHECK(at >= last);
    last = at;
  }
  CHECK(y.find("# intra-op CPU threads; 0 = all cores\n") != std::string::npos);
  CHECK(y.find("# read on a background I/O thread\n") != std::string::npos);
}

TEST_CASE("to_yaml round-trips through resolve", "[config]") {
  const Config d = sne::config::defaults();
  CHECK(round_trip(d) == d);
  CHECK(to_yaml(round_trip(d)) == to_yaml(d));

  Config c = d;
  c.run.threads = 3;
  c.run.seed = 9007199254740993;  // not representable as a double
  c.run.device = "cuda";
  c.run.log_level = "off";
  c.zoo.path = "my zoos/\"odd\" #1: \\ \t.h5";
  c.zoo.reader.batch_size = 1;
  c.zoo.reader.memory_budget_mb = 0.1 + 0.2;
  c.zoo.reader.shuffle = false;
  c.zoo.reader.prefetch = false;
  const Config back = round_trip(c);
  CHECK(back == c);
  CHECK(back != d);
  CHECK(to_yaml(back) == to_yaml(c));
  CHECK(back.zoo.path == c.zoo.path);
  CHECK(back.zoo.reader.memory_budget_mb == c.zoo.reader.memory_budget_mb);

  for (const char* path : {"null", "~", "true", "123", "-x", "a: b", " lead", "[x]", "caf\xc3\xa9.h5"}) {
    c.zoo.path = path;
    INFO(to_yaml(c));
    CHECK(round_trip(c).zoo.path == path);
  }
  for (const double mb : {1e-300, 2.5e38, 123456.789, 5e-324}) {  // numbers stay within float32's range
    c.zoo.reader.memory_budget_mb = mb;
    CHECK(round_trip(c).zoo.reader.memory_budget_mb == mb);
  }
}

TEST_CASE("the embedded default config is configs/default.yaml and resolves cleanly", "[config]") {
  const std::string& text = sne::config::embedded_default_yaml();
  REQUIRE_FALSE(text.empty());
  const Config c = resolve({{"<embedded default>", text}}, {});
  CHECK(c.zoo.generator == "sine");  // the demo builds its own zoo
  for (const auto& key : kKeys) {  // the file users copy shows every setting
    const std::string leaf = key.substr(key.rfind('.') + 1);
    CHECK(text.find(leaf + ":") != std::string::npos);
  }
#ifdef SNE_SOURCE_DIR
  CHECK(sne::config::read_source(SNE_SOURCE_DIR "/configs/default.yaml").text == text);
#endif
}

TEST_CASE("read_source reads a file or says why it cannot", "[config]") {
  const auto dir = std::filesystem::temp_directory_path() / "sne_config_tests";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "exp.yaml").string();
  { std::ofstream(path) << "run:\n  threads: 2\n  seed: x\n"; }
  const auto src = sne::config::read_source(path);
  CHECK(src.name == path);
  CHECK(src.text == "run:\n  threads: 2\n  seed: x\n");
  try {
    resolve({src}, {});
    FAIL("resolve accepted seed: x");
  } catch (const sne::ConfigError& e) {
    CHECK(std::string(e.what()) == path + ":3: run.seed: expected an integer, got 'x'");
  }
  std::error_code ec;
  sne::remove_tree(dir.string(), ec);

  const std::string missing = (dir / "missing.yaml").string();
  try {
    sne::config::read_source(missing);
    FAIL("read_source read a missing file");
  } catch (const sne::ConfigError& e) {
    CHECK(std::string(e.what()) == missing + ": cannot read config file (No such file or directory)");
  }
  CHECK_THROWS_AS(sne::config::read_source(std::filesystem::temp_directory_path().string()), sne::ConfigError);
}

TEST_CASE("Config equality compares every setting", "[config]") {
  const Config d = sne::config::defaults();
  CHECK(d == sne::config::defaults());
  Config c = d;
  c.zoo.reader.prefetch = false;
  CHECK(c != d);
  c = d;
  c.zoo.reader.memory_budget_mb = 256.5;
  CHECK_FALSE(c == d);
}

TEST_CASE("a saved config from before encoder.position_scale keeps the unscaled encodings", "[config]") {
  Config c = sne::config::defaults();
  c.encoder.position_scale = 0.25;
  const std::string with_key = to_yaml(c);
  // The same file as an earlier sne wrote it: every setting but the new one.
  std::string without_key;
  std::istringstream in(with_key);
  for (std::string line; std::getline(in, line);)
    if (line.find("position_scale:") == std::string::npos) without_key += line + "\n";
  REQUIRE(without_key != with_key);
  CHECK(resolve({{"old/config.yaml", without_key, true}}, {}).encoder.position_scale == 1.0);
  CHECK(resolve({{"old/config.yaml", with_key, true}}, {}).encoder.position_scale == 0.25);  // present: kept
  // A config the user wrote is not a saved one: an absent setting takes today's default.
  CHECK(resolve({{"mine.yaml", without_key}}, {}).encoder.position_scale ==
        sne::config::defaults().encoder.position_scale);
  // An override still wins over the former value.
  CHECK(resolve({{"old/config.yaml", without_key, true}}, {"encoder.position_scale=0.5"}).encoder.position_scale == 0.5);
  // A saved config without an encoder section at all (found by tests/fuzz: yaml-cpp's InvalidNode escaped as an
  // internal error) takes the former value too.
  CHECK(resolve({{"old/config.yaml", "train: {epochs: 2}\n", true}}, {}).encoder.position_scale == 1.0);
}
