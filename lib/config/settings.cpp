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
    choice("zoo.generator", [](Config& c) -> std::string& { return c.zoo.generator; },
           "none", {"none", "sine"}, "sne run: build (or complete) zoo.path with this generator; none = must exist"),
    integer("zoo.reader.batch_size", [](Config& c) -> int64_t& { return c.zoo.reader.batch_size; },
            64, at_least(1), "networks per batch"),
    number("zoo.reader.memory_budget_mb", [](Config& c) -> double& { return c.zoo.reader.memory_budget_mb; },
           256.0, greater_than(0.0), "bound on the weights the reader buffers, MiB"),
    boolean("zoo.reader.shuffle", [](Config& c) -> bool& { return c.zoo.reader.shuffle; },
            true, "windowed shuffle with the run seed"),
    boolean("zoo.reader.prefetch", [](Config& c) -> bool& { return c.zoo.reader.prefetch; },
            true, "read on a background I/O thread"),

    // generate.sine: the sine-wave INR zoo recipe (DWSNets; SNE paper section 4.1).
    integer("generate.sine.count", [](Config& c) -> int64_t& { return c.generate.sine.count; },
            4000, at_least(1), "INRs to generate"),
    integer("generate.sine.test_count", [](Config& c) -> int64_t& { return c.generate.sine.test_count; },
            1000, at_least(0), "test split size (scaled down when count is too small)"),
    integer("generate.sine.validation_count", [](Config& c) -> int64_t& { return c.generate.sine.validation_count; },
            1000, at_least(0), "validation split size (scaled down when count is too small)"),
    number("generate.sine.freq_min", [](Config& c) -> double& { return c.generate.sine.freq_min; },
           0.5, greater_than(0.0), "lowest frequency b of a*sin(b*x)"),
    number("generate.sine.freq_max", [](Config& c) -> double& { return c.generate.sine.freq_max; },
           10.0, greater_than(0.0), "highest frequency b (exclusive)"),
    number("generate.sine.amplitude", [](Config& c) -> double& { return c.generate.sine.amplitude; },
           1.0, greater_than(0.0), "amplitude a"),
    integer("generate.sine.points", [](Config& c) -> int64_t& { return c.generate.sine.points; },
            2000, at_least(2), "samples of x in [-pi, pi), step 2*pi/points"),
    integer("generate.sine.hidden", [](Config& c) -> int64_t& { return c.generate.sine.hidden; },
            32, at_least(1), "SIREN width (1 -> hidden -> hidden -> 1)"),
    number("generate.sine.w0", [](Config& c) -> double& { return c.generate.sine.w0; },
           30.0, greater_than(0.0), "SIREN w0: sin(w0 * (W x + b))"),
    number("generate.sine.output_offset", [](Config& c) -> double& { return c.generate.sine.output_offset; },
           0.5, unchecked<double>(), "constant added to the INR's output"),
    number("generate.sine.lr", [](Config& c) -> double& { return c.generate.sine.lr; },
           1e-3, greater_than(0.0), "Adam learning rate"),
    number("generate.sine.weight_decay", [](Config& c) -> double& { return c.generate.sine.weight_decay; },
           1e-4, at_least_number(0.0), "Adam weight decay (added to the gradient)"),
    integer("generate.sine.max_steps", [](Config& c) -> int64_t& { return c.generate.sine.max_steps; },
            1500, at_least(1), "optimisation steps at most"),
    number("generate.sine.target_loss", [](Config& c) -> double& { return c.generate.sine.target_loss; },
           1e-4, at_least_number(0.0), "stop an INR as soon as its MSE is <= this"),
    integer("generate.sine.batch", [](Config& c) -> int64_t& { return c.generate.sine.batch; },
            64, at_least(1), "INRs trained at once (on a CPU in groups of 8, one per thread)"),
  };
  // clang-format on
  return t;
}

}  // namespace sne::config::detail
