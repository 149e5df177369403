// Every setting, declared once: key, type, default, check, help, and the Config field it binds to.
// Adding a setting = one entry here + one field in config.h (and, if users should see it, configs/default.yaml).
#include "config/schema.h"

namespace sne::config::detail {

const std::vector<Setting>& table() {
  // clang-format off
  static const std::vector<Setting> t = {
    // run: process-wide execution settings.
    integer("run.threads", [](Config& c) -> int64_t& { return c.run.threads; },
            0, at_least(0), "intra-op CPU threads; 0 = all cores"),
    integer("run.seed", [](Config& c) -> int64_t& { return c.run.seed; },
            0, at_least(0), "master random seed"),
    choice("run.device", [](Config& c) -> std::string& { return c.run.device; },
           "auto", {"cpu", "cuda", "auto"}, "where tensors live; auto = cuda when available"),
    choice("run.log_level", [](Config& c) -> std::string& { return c.run.log_level; },
           "info", {"trace", "debug", "info", "warn", "error", "off"}, "logging verbosity"),

    // zoo: the model zoo and how it is read.
    string("zoo.path", [](Config& c) -> std::string& { return c.zoo.path; },
           "zoos/sine_demo.h5", non_empty(), "model-zoo file (HDF5, docs/zoo-format.md)"),
    integer("zoo.reader.batch_size", [](Config& c) -> int64_t& { return c.zoo.reader.batch_size; },
            64, at_least(1), "networks per batch"),
    number("zoo.reader.memory_budget_mb", [](Config& c) -> double& { return c.zoo.reader.memory_budget_mb; },
           256.0, greater_than(0.0), "bound on the weights the reader buffers, MiB"),
    boolean("zoo.reader.shuffle", [](Config& c) -> bool& { return c.zoo.reader.shuffle; },
            true, "windowed shuffle with the run seed"),
    boolean("zoo.reader.prefetch", [](Config& c) -> bool& { return c.zoo.reader.prefetch; },
            true, "read on a background I/O thread"),
  };
  // clang-format on
  return t;
}

}  // namespace sne::config::detail
