#pragma once
// The toy task of the trainer and study tests: MLPs 2 -> 8 -> 1 whose weights are N(0, s^2), property `scale` = s,
// a signal every model learns in a few epochs.
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

#include "config/config.h"
#include "zoo/fixtures.h"
#include "zoo/zoo_writer.h"

namespace sne::test {

/// 48 MLPs, s = 0.2 + 0.05 i + shift; splits: every 6th network validation, the next test, the rest train.
/// `hidden` other than 8 gives another architecture of the same task.
inline void write_scale_zoo(const std::string& path, double shift = 0.0, int hidden = 8) {
  std::filesystem::remove(path);  // a rewrite replaces the file
  auto w = zoo::ZooWriter::create(path, Json::object());
  const int a = w->add_architecture(mlp_spec("mlp_h" + std::to_string(hidden), 2, hidden, 1));
  torch::manual_seed(0);
  std::vector<int64_t> train, validation, test;
  const int64_t params = 2 * hidden + hidden + hidden + 1;
  for (int i = 0; i < 48; ++i) {
    const double s = 0.2 + 0.05 * i + shift;
    const torch::Tensor p = torch::randn({params}) * s;
    w->append(a, p.data_ptr<float>(), {{"scale", s}});
    (i % 6 == 0 ? validation : i % 6 == 1 ? test : train).push_back(i);
  }
  w->set_split("train", train);
  w->set_split("validation", validation);
  w->set_split("test", test);
  w->close();
}

/// A small, fast config of the toy task on `zoo`.
inline config::Config scale_config(const std::string& zoo) {
  config::Config c = config::defaults();
  c.zoo.path = zoo;
  c.task.property = "scale";
  c.zoo.reader.batch_size = 8;
  c.encoder.dim = 16;
  c.encoder.chunk_size = 16;
  c.predictor.hidden = 32;
  c.train.epochs = 2;
  c.train.warmup_steps = 5;
  c.train.lr = 1e-3;
  return c;
}

}  // namespace sne::test
