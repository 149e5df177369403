// resolve(): defaults, precedence, key forms, and the problems it reports.
#include "sne_catch.h"
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/error.h"

using sne::config::Config;
using sne::config::resolve;
using sne::config::Source;

namespace {

// The ConfigError message of resolve(sources, overrides), split into lines ({} when it resolves).
std::vector<std::string> problems(const std::vector<Source>& sources,
                                  const std::vector<std::string>& overrides = {}) {
  try {
    resolve(sources, overrides);
  } catch (const sne::ConfigError& e) {
    std::vector<std::string> lines;
    std::istringstream in(e.what());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  return {};
}

std::string problem(const std::string& yaml) {
  const auto p = problems({{"f.yaml", yaml}});
  REQUIRE(p.size() == 1);
  return p[0];
}

std::string override_problem(const std::string& o) {
  const auto p = problems({}, {o});
  REQUIRE(p.size() == 1);
  return p[0];
}

}  // namespace

TEST_CASE("defaults() holds every declared default", "[config]") {
  const Config c = sne::config::defaults();
  CHECK(c.run.threads == 0);
  CHECK(c.run.seed == 0);
  CHECK(c.run.device == "auto");
  CHECK(c.run.log_level == "info");
  CHECK(c.zoo.path == "zoos/sine_demo.h5");
  CHECK(c.zoo.reader.batch_size == 64);
  CHECK(c.zoo.reader.memory_budget_mb == 256.0);
  CHECK(c.zoo.reader.shuffle);
  CHECK(c.zoo.reader.prefetch);
}

TEST_CASE("no sources, empty files and empty sections give the defaults", "[config]") {
  const Config d = sne::config::defaults();
  CHECK(resolve({}, {}) == d);
  CHECK(resolve({{"empty.yaml", ""}}, {}) == d);
  CHECK(resolve({{"comments.yaml", "# nothing here\n\n"}}, {}) == d);
  CHECK(resolve({{"section.yaml", "zoo:\n  # path: x\n"}}, {}) == d);
}

TEST_CASE("nested maps and dotted keys name the same setting", "[config]") {
  for (const char* yaml : {"zoo:\n  reader:\n    batch_size: 8\n", "zoo.reader.batch_size: 8\n",
                           "zoo.reader:\n  batch_size: 8\n", "zoo: {reader: {batch_size: 8}}\n"}) {
    INFO(yaml);
    CHECK(resolve({{"f.yaml", yaml}}, {}).zoo.reader.batch_size == 8);
  }
  CHECK(resolve({}, {"zoo.reader.batch_size=8"}).zoo.reader.batch_size == 8);
  CHECK(resolve({}, {"zoo.reader={batch_size: 8, shuffle: false}"}).zoo.reader.shuffle == false);
}

TEST_CASE("later sources win and overrides beat files", "[config]") {
  const Source a{"a.yaml", "run:\n  threads: 2\n  seed: 7\nzoo:\n  path: a.h5\n"};
  const Source b{"b.yaml", "run:\n  threads: 3\n"};
  const Config c = resolve({a, b}, {"zoo.path=c.h5"});
  CHECK(c.run.threads == 3);    // b over a
  CHECK(c.run.seed == 7);       // only in a
  CHECK(c.zoo.path == "c.h5");  // override over a
  CHECK(resolve({b, a}, {}).run.threads == 2);
  CHECK(resolve({a}, {"run.threads=5", "run.threads=6"}).run.threads == 6);  // overrides in order
}

TEST_CASE("values of every type are read", "[config]") {
  const Config c = resolve({{"f.yaml",
                             "run: {threads: 4, seed: 123456789012, device: cuda, log_level: \"off\"}\n"
                             "zoo:\n  path: 'my zoo.h5'\n"
                             "  reader: {memory_budget_mb: 1.5e-3, shuffle: false, prefetch: false}\n"}},
                           {"zoo.reader.batch_size=+16", "run.log_level=off"});
  CHECK(c.run.threads == 4);
  CHECK(c.run.seed == 123456789012);
  CHECK(c.run.device == "cuda");
  CHECK(c.run.log_level == "off");
  CHECK(c.zoo.path == "my zoo.h5");
  CHECK(c.zoo.reader.batch_size == 16);
  CHECK(c.zoo.reader.memory_budget_mb == 1.5e-3);
  CHECK_FALSE(c.zoo.reader.shuffle);
  CHECK_FALSE(c.zoo.reader.prefetch);
  CHECK(resolve({}, {"zoo.reader.memory_budget_mb=100"}).zoo.reader.memory_budget_mb == 100.0);
  CHECK(resolve({}, {"zoo.path=\"a b # c\""}).zoo.path == "a b # c");
}

TEST_CASE("every problem is reported at once, each with its origin", "[config]") {
  const std::string bad =
      "run:\n"
      "  threads: abc\n"
      "  seed: 1\n"
      "  device: gpu\n"
      "zoo:\n"
      "  reader:\n"
      "    batchsize: 8\n";
  const auto p = problems({{"bad.yaml", bad}, {"ok.yaml", "run: {seed: 2}\n"}, {"two.yaml", "\n\nrun.seed: -1\n"}},
                          {"run.threads=x", "nonsense"});
  REQUIRE(p.size() == 6);
  CHECK(p[0] == "bad.yaml:2: run.threads: expected an integer, got 'abc'");
  CHECK(p[1] == "bad.yaml:4: run.device: got 'gpu', must be one of: cpu, cuda, auto (did you mean 'cpu'?)");
  CHECK(p[2] == "bad.yaml:7: key 'zoo.reader.batchsize' is unknown (did you mean 'zoo.reader.batch_size'?)");
  CHECK(p[3] == "two.yaml:3: run.seed: must be >= 0, got -1");
  CHECK(p[4] == "--set run.threads=x: run.threads: expected an integer, got 'x'");
  CHECK(p[5] == "--set nonsense: expected KEY=VALUE");
}

TEST_CASE("unknown keys suggest the closest declared key", "[config]") {
  CHECK(problem("zoo:\n  reader:\n    batchsize: 8\n") ==
        "f.yaml:3: key 'zoo.reader.batchsize' is unknown (did you mean 'zoo.reader.batch_size'?)");
  CHECK(override_problem("zoo.reader.batchsize=8") ==
        "--set zoo.reader.batchsize=8: key 'zoo.reader.batchsize' is unknown (did you mean "
        "'zoo.reader.batch_size'?)");
  // A misspelled section, nested or dotted.
  CHECK(problem("zo:\n  path: x.h5\n") == "f.yaml:2: key 'zo.path' is unknown (did you mean 'zoo.path'?)");
  CHECK(problem("zo.path: x.h5\n") == "f.yaml:1: key 'zo.path' is unknown (did you mean 'zoo.path'?)");
  CHECK(override_problem("zo.path=x.h5") ==
        "--set zo.path=x.h5: key 'zo.path' is unknown (did you mean 'zoo.path'?)");
  CHECK(problem("completely_unrelated: 1\n") == "f.yaml:1: key 'completely_unrelated' is unknown");
}

TEST_CASE("values of the wrong type are rejected", "[config]") {
  CHECK(problem("run:\n  threads: abc\n") == "f.yaml:2: run.threads: expected an integer, got 'abc'");
  CHECK(problem("run.threads: 1.5\n") == "f.yaml:1: run.threads: expected an integer, got '1.5'");
  CHECK(problem("run.threads: \"4\"\n") ==
        "f.yaml:1: run.threads: expected an integer, got '4' (quoted, so a string)");
  CHECK(problem("run.seed: 99999999999999999999\n") ==
        "f.yaml:1: run.seed: expected an integer, got '99999999999999999999' (outside the 64-bit range)");
  CHECK(problem("zoo.reader.shuffle: yes\n") == "f.yaml:1: zoo.reader.shuffle: expected true or false, got 'yes'");
  CHECK(problem("zoo.reader.memory_budget_mb: lots\n") ==
        "f.yaml:1: zoo.reader.memory_budget_mb: expected a number, got 'lots'");
  CHECK(problem("run.threads: {a: 1}\n") == "f.yaml:1: run.threads: expected an integer, got a map");
  CHECK(problem("zoo.reader.batch_size: [1, 2]\n") ==
        "f.yaml:1: zoo.reader.batch_size: expected an integer, got a list");
  CHECK(problem("run.threads:\n") == "f.yaml:1: run.threads: expected an integer, got nothing");
  CHECK(problem("zoo: zoos/a.h5\n") ==
        "f.yaml:1: 'zoo' is a section, expected a map of its settings, got 'zoos/a.h5'");
  CHECK(override_problem("zoo.reader.prefetch=1") ==
        "--set zoo.reader.prefetch=1: zoo.reader.prefetch: expected true or false, got '1'");
  CHECK(override_problem("zoo.path=") == "--set zoo.path=: zoo.path: expected a string, got nothing");
  // Infinity and NaN parse as YAML floats, but no setting means anything by them.
  CHECK(problem("train.lr: .inf\n") == "f.yaml:1: train.lr: expected a finite number, got '.inf'");
  CHECK(problem("train.weight_decay: -.inf\n") == "f.yaml:1: train.weight_decay: expected a finite number, got '-.inf'");
  CHECK(override_problem("train.grad_clip=.nan") ==
        "--set train.grad_clip=.nan: train.grad_clip: expected a finite number, got '.nan'");
  // Beyond float32's range LibTorch throws converting it to a tensor's scalar (was an internal error).
  CHECK(problem("train.lr: 1e300\n") ==
        "f.yaml:1: train.lr: expected a number within float32's range (|x| <= 3e38), got '1e300'");
  CHECK(problem("train.invariance_weight: 1e39\n") ==
        "f.yaml:1: train.invariance_weight: expected a number within float32's range (|x| <= 3e38), got '1e39'");
  CHECK(problem("train.lr: 20\n") == "f.yaml:1: train.lr: must be in (0, 10], got 20");
  CHECK(problem("train.lr: 0\n") == "f.yaml:1: train.lr: must be in (0, 10], got 0");
}

TEST_CASE("values outside their range are rejected", "[config]") {
  CHECK(problem("run.threads: -1\n") == "f.yaml:1: run.threads: must be >= 0, got -1");
  CHECK(problem("zoo.reader.batch_size: 0\n") == "f.yaml:1: zoo.reader.batch_size: must be >= 1, got 0");
  CHECK(problem("zoo.reader.memory_budget_mb: 0\n") ==
        "f.yaml:1: zoo.reader.memory_budget_mb: must be > 0, got 0");
  CHECK(problem("zoo.reader.memory_budget_mb: -0.5\n") ==
        "f.yaml:1: zoo.reader.memory_budget_mb: must be > 0, got -0.5");
  CHECK(problem("zoo.path: ''\n") == "f.yaml:1: zoo.path: must be non-empty");
  CHECK(problem("train:\n  final_lr_fraction: 1.5\n") ==
        "f.yaml:2: train.final_lr_fraction: must be in [0, 1], got 1.5");
  // Bounds that match what a model can build, before anything is allocated.
  CHECK(problem("encoder.dim: 2147483647\n") == "f.yaml:1: encoder.dim: must be in [2, 4096], got 2147483647");
  CHECK(problem("predictor.hidden: 1000000000\n") ==
        "f.yaml:1: predictor.hidden: must be in [1, 65536], got 1000000000");
  CHECK(problem("train.invariance_samples: 1000000000\n") ==
        "f.yaml:1: train.invariance_samples: must be in [1, 64], got 1000000000");
  // Settings that are each in range but do not fit together.
  CHECK(problem("encoder: {dim: 32, heads: 5}\n") ==
        "encoder.heads (5) must divide encoder.dim (32): each attention head takes dim / heads of every vector");
  CHECK(problems({{"f.yaml", "encoder: {dim: 32, heads: 8}\n"}}).empty());
}

TEST_CASE("a memory budget of any positive size is one the reader can honour", "[config]") {
  CHECK(sne::config::budget_bytes(1e-300) == 1);
  CHECK(sne::config::budget_bytes(256) == int64_t{256} << 20);
  CHECK(sne::config::budget_bytes(1e300) == int64_t{1} << 50);
}

TEST_CASE("a value that is not one of the choices lists them", "[config]") {
  CHECK(problem("run:\n  log_level: verbose\n") ==
        "f.yaml:2: run.log_level: got 'verbose', must be one of: trace, debug, info, warn, error, off");
  CHECK(override_problem("run.device=GPU") ==
        "--set run.device=GPU: run.device: got 'GPU', must be one of: cpu, cuda, auto");
}

TEST_CASE("malformed YAML and a non-map top level are reported with file and line", "[config]") {
  CHECK(problem("run:\n  threads: 1\n  seed: [1, 2\n") ==
        "f.yaml:3: malformed YAML: end of sequence flow not found");
  CHECK(problem("run:\n  threads: 1\n  seed: 1: 2\n") == "f.yaml:3: malformed YAML: illegal map value");
  CHECK(problem("run:\n  threads: 1\n\tseed: 2\n") ==
        "f.yaml:3: malformed YAML: illegal tab when looking for indentation");
  CHECK(problem("- a\n- b\n") == "f.yaml:1: expected a map of settings at the top level, got a list");
  CHECK(problem("just text\n") == "f.yaml:1: expected a map of settings at the top level, got 'just text'");
  CHECK(problem("run.seed: 1\n---\nrun.seed: 2\n") == "f.yaml:2: expected one YAML document, found 2");  // at its ---
  // A stray comma made yaml-cpp 0.7's LoadAll allocate without end (24 GB; found by tests/fuzz).
  CHECK_THAT(problem(",\n"), Catch::Contains("f.yaml") && Catch::Contains("stray ','"));
  CHECK_THAT(problem(", lr: 0.001train: &t {epochs: 2}\n"), Catch::Contains("f.yaml"));
  CHECK(override_problem("zoo.path=\"x") ==
        "--set zoo.path=\"x: zoo.path: malformed value: illegal EOF in scalar");
}

TEST_CASE("a key set twice in one file is reported", "[config]") {
  CHECK(problem("run:\n  seed: 1\n  seed: 2\n") == "f.yaml:3: key 'run.seed' is set twice (first on line 2)");
  CHECK(problem("run:\n  seed: 1\nrun.seed: 2\n") == "f.yaml:3: key 'run.seed' is set twice (first on line 2)");
  // Across files it is ordinary precedence.
  CHECK(resolve({{"a.yaml", "run.seed: 1\n"}, {"b.yaml", "run.seed: 2\n"}}, {}).run.seed == 2);
}

TEST_CASE("a ConfigError has the config error kind", "[config]") {
  try {
    resolve({}, {"run.threads=-3"});
    FAIL("resolve accepted a negative thread count");
  } catch (const sne::Error& e) {
    CHECK(e.kind() == sne::ErrorKind::config);
  }
}

TEST_CASE("a value of 60 kB is read, shown back and named in a short message", "[config]") {
  // std::regex recursed once per character here and overflowed the stack (config show segfaulted).
  const std::string long_path(60000, 'a');
  const auto c = resolve({{"f.yaml", "zoo:\n  path: " + long_path + "\n"}}, {});
  CHECK(c.zoo.path == long_path);
  CHECK(sne::config::to_yaml(c).find(long_path) != std::string::npos);
  const std::string digits(60000, '7');
  const std::string p = problem("run.seed: " + digits + "\n");
  CHECK_THAT(p, Catch::Contains("(60000 characters)"));
  CHECK(p.size() < 300);
  CHECK(problem("train.lr: " + std::string(60000, '1') + "e\n").size() < 300);
}
