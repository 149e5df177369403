#include "train/normalizer.h"

#include <cmath>

#include "core/error.h"
#include "zoo/zoo_stream.h"

namespace sne::train {
namespace {
std::string kind_role(const zoo::LayerSpec& l, const zoo::TensorSpec& t) { return std::string(zoo::to_string(l.kind)) + "/" + t.role; }

Json moments_json(const Moments& m) {
  Json j = Json::object();
  j.set("sum", m.sum);
  j.set("sum_sq", m.sum_sq);
  j.set("count", m.count);
  return j;
}
Moments moments_from(const Json& j) {
  Moments m;
  m.sum = j.at("sum").as_number();
  m.sum_sq = j.at("sum_sq").as_number();
  m.count = j.at("count").as_number();
  return m;
}
}  // namespace

double Moments::stddev() const {
  if (count < 2) return 1.0;
  const double var = std::max(0.0, sum_sq / count - mean() * mean());
  return std::max(std::sqrt(var), 1e-8);
}

ValueNormalizer ValueNormalizer::fit(std::shared_ptr<const zoo::ZooFile> zoo, const std::string& split,
                                     const std::string& mode, int64_t memory_budget_bytes,
                                     double subset_fraction, uint64_t subset_seed) {
  ValueNormalizer n;
  n.mode_ = mode;
  if (mode == "none") return n;
  if (mode != "tensor") throw ConfigError("train.value_normalization: unknown mode '" + mode + "'");
  zoo::StreamOptions o;
  o.split = split;
  o.subset_fraction = subset_fraction;  // the networks trained on, when training uses part of the split
  o.subset_seed = subset_seed;
  o.batch_size = 256;
  o.memory_budget_bytes = memory_budget_bytes;
  zoo::ZooStream stream(zoo, o);
  zoo::NetworkBatch b;
  while (stream.next(b)) {
    for (int64_t i = 0; i < b.size(); ++i) {
      const auto& spec = zoo->architectures()[static_cast<std::size_t>(b.arch[static_cast<std::size_t>(i)])];
      const float* p = b.params_of(i);
      for (const auto& l : spec.layers)
        for (const auto& t : l.tensors) {
          Moments& mt = n.tensor_[spec.name + "/" + t.name];
          Moments& mk = n.kind_role_[kind_role(l, t)];
          for (int64_t k = 0; k < t.numel(); ++k) {
            const double v = p[t.offset + k];
            mt.add(v);
            mk.add(v);
            n.all_.add(v);
          }
        }
    }
  }
  return n;
}

void ValueNormalizer::apply(const zoo::ArchitectureSpec& spec, float* params) const {
  if (mode_ == "none") return;
  for (const auto& l : spec.layers)
    for (const auto& t : l.tensors) {
      const Moments* m = &all_;
      if (auto it = tensor_.find(spec.name + "/" + t.name); it != tensor_.end()) m = &it->second;
      else if (auto k = kind_role_.find(kind_role(l, t)); k != kind_role_.end()) m = &k->second;
      const auto mean = static_cast<float>(m->mean()), inv = static_cast<float>(1.0 / m->stddev());
      for (int64_t k = 0; k < t.numel(); ++k) params[t.offset + k] = (params[t.offset + k] - mean) * inv;
    }
}

Json ValueNormalizer::to_json() const {
  Json j = Json::object();
  j.set("mode", mode_);
  Json t = Json::object(), k = Json::object();
  for (const auto& [name, m] : tensor_) t.set(name, moments_json(m));
  for (const auto& [name, m] : kind_role_) k.set(name, moments_json(m));
  j.set("tensor", t);
  j.set("kind_role", k);
  j.set("all", moments_json(all_));
  return j;
}

ValueNormalizer ValueNormalizer::from_json(const Json& j) {
  ValueNormalizer n;
  n.mode_ = j.at("mode").as_string();
  for (const auto& [name, m] : j.at("tensor").as_object()) n.tensor_[name] = moments_from(m);
  for (const auto& [name, m] : j.at("kind_role").as_object()) n.kind_role_[name] = moments_from(m);
  n.all_ = moments_from(j.at("all"));
  return n;
}

TargetScaler TargetScaler::fit(const std::vector<double>& values, const std::string& loss) {
  TargetScaler s;
  s.loss = loss;
  if (loss == "bce") {
    for (double v : values)
      if (v < 0 || v > 1) throw DataError("task.loss bce needs targets in [0, 1]; found " + std::to_string(v));
    return s;
  }
  Moments m;
  for (double v : values) m.add(v);
  s.mean = m.mean();
  s.std = m.stddev();
  return s;
}

double TargetScaler::from_model(double out) const {
  return loss == "mse" ? out * std + mean : 1.0 / (1.0 + std::exp(-out));
}

Json TargetScaler::to_json() const {
  Json j = Json::object();
  j.set("loss", loss);
  j.set("mean", mean);
  j.set("std", std);
  return j;
}

TargetScaler TargetScaler::from_json(const Json& j) {
  TargetScaler s;
  s.loss = j.at("loss").as_string();
  s.mean = j.at("mean").as_number();
  s.std = j.at("std").as_number();
  return s;
}

}  // namespace sne::train
