#include "train/predict.h"

#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>

#include "core/error.h"
#include "core/strings.h"
#include "train/batch.h"
#include "train/checkpoint.h"
#include "train/step.h"

namespace sne::train {

at::Device device_of(const Context& ctx) {
  return ctx.device == "cuda" ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(ctx.device_index)) : at::Device(at::kCPU);
}
int64_t budget_bytes(const config::Config& c) { return config::budget_bytes(c.zoo.reader.memory_budget_mb); }

zoo::StreamOptions stream_options(const config::Config& c, const std::string& split, bool shuffle) {
  zoo::StreamOptions o;
  o.split = split;
  o.properties = {c.task.property};
  o.batch_size = c.zoo.reader.batch_size;
  o.shuffle = shuffle;
  o.seed = static_cast<uint64_t>(c.run.seed);
  o.prefetch = c.zoo.reader.prefetch;
  o.memory_budget_bytes = budget_bytes(c);
  o.skip_unknown = true;  // a NaN target is unknown: neither trained on nor scored
  return o;
}

// Metrics need pairs: a split used for validation or testing must hold at least two networks.
void require_scorable(const zoo::ZooFile& z, const std::string& split, const std::string& key,
                      const std::string& property) {
  const auto all = z.split(split).size();
  const auto n = z.has_property(property) ? zoo::with_known(z, z.split(split), property).size() : all;
  if (n < 2)
    throw DataError(z.path() + ": split '" + split + "' (" + key + ") holds " + std::to_string(n) +
                    " network(s)" + (n < all ? " with a known '" + property + "' (the others are NaN)" : "") +
                    "; scoring needs at least 2");
}

void require_property(const zoo::ZooFile& z, const std::string& property) {
  if (!z.has_property(property))
    throw DataError(z.path() + ": the zoo has no property '" + property + "' (task.property); it has: " +
                    (z.property_names().empty() ? std::string("none") : join(z.property_names())));
}

Predictions predict_split(Model& model, const config::Config& c, std::shared_ptr<const zoo::ZooFile> z,
                          const std::string& split, const ValueNormalizer& values, const TargetScaler& targets,
                          const Context& ctx, int64_t samples, uint64_t seed) {
  torch::NoGradGuard no_grad;
  model->eval();
  zoo::ZooStream stream(z, stream_options(c, split, false));
  BatchPreparer preparer(*z, values, &targets, c.encoder.chunk_size, device_of(ctx));
  zoo::NetworkBatch b;
  Predictions p;
  std::mt19937_64 rng(seed);
  torch::Tensor inv_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(device_of(ctx)));
  int64_t batches = 0;
  while (stream.next(b)) {
    const PreparedBatch pb = preparer.prepare(b);
    auto [out, inv] = forward_with_invariance(model, pb, preparer, samples, rng);
    const torch::Tensor host = out.to(at::kDouble).cpu();
    for (int64_t i = 0; i < b.size(); ++i) {
      p.index.push_back(pb.index[static_cast<std::size_t>(i)]);
      p.truth.push_back(pb.truth[static_cast<std::size_t>(i)]);
      p.predicted.push_back(targets.from_model(host.data_ptr<double>()[i]));
    }
    inv_sum += inv.to(torch::kDouble);
    ++batches;
  }
  p.invariance_error = batches ? inv_sum.item<double>() / static_cast<double>(batches) : 0.0;
  model->train();
  return p;
}

// The sharded run's validation: each process predicts the networks of the shards it owns, and an all-reduce of
// rows placed by network gives every process the whole split, in ascending network order.
Predictions predict_shards(Model& model, const config::Config& c, std::shared_ptr<const zoo::ZooFile> z,
                           const std::string& split, const ValueNormalizer& values, const TargetScaler& targets,
                           const Context& ctx, const ShardPlan& plan, Collective* collective) {
  torch::NoGradGuard no_grad;
  model->eval();
  std::vector<int64_t> ids = zoo::with_known(*z, z->split(split), c.task.property);
  std::sort(ids.begin(), ids.end());
  torch::Tensor rows = torch::zeros({static_cast<int64_t>(ids.size()), 3}, torch::kDouble);  // truth, predicted, seen
  auto* r = rows.data_ptr<double>();
  BatchPreparer preparer(*z, values, &targets, c.encoder.chunk_size, device_of(ctx));
  for (int64_t k = 0; k < plan.owned; ++k) {
    zoo::StreamOptions o = stream_options(c, split, false);
    o.num_shards = plan.shards;
    o.shard_index = plan.first + k;
    zoo::ZooStream stream(z, o);
    zoo::NetworkBatch b;
    while (stream.next(b)) {
      const PreparedBatch pb = preparer.prepare(b);
      const torch::Tensor host = model->forward(pb.input).to(at::kDouble).cpu();
      for (int64_t i = 0; i < b.size(); ++i) {
        const auto at = std::lower_bound(ids.begin(), ids.end(), pb.index[static_cast<std::size_t>(i)]) - ids.begin();
        r[at * 3] = pb.truth[static_cast<std::size_t>(i)];
        r[at * 3 + 1] = targets.from_model(host.data_ptr<double>()[i]);
        r[at * 3 + 2] += 1;
      }
    }
  }
  if (collective && collective->size() > 1) {
    std::vector<torch::Tensor> t{rows};
    collective->allreduce_sum(t);
  }
  Predictions p;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (r[i * 3 + 2] != 1)
      throw std::logic_error("sharded validation predicted network " + std::to_string(ids[i]) + " " +
                             std::to_string(r[i * 3 + 2]) + " times");
    p.index.push_back(ids[i]);
    p.truth.push_back(r[i * 3]);
    p.predicted.push_back(r[i * 3 + 1]);
  }
  model->train();
  return p;
}

LoadedModel load_model(const std::string& dir, const Context& ctx) {
  const LoadedCheckpoint ck = read_checkpoint(dir);
  LoadedModel m;
  try {
    m.config = config::resolve({{dir + "/config.yaml", ck.config_yaml, true}}, {});
  } catch (const ConfigError& e) {
    throw CheckpointError(dir + "/config.yaml: not a config this sne reads (" + std::string(e.what()) + ")");
  }
  try {
    m.shape = ModelShape::from_json(ck.state.find("model_shape"));
    m.values = ValueNormalizer::from_json(ck.state.at("value_normalizer"));
    m.targets = TargetScaler::from_json(ck.state.at("target_scaler"));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw CheckpointError(dir + "/state.json: " + e.what());
  }
  require_model_fits(m.config, m.shape, 4);
  try {
    m.model = make_model(m.config, m.shape);
  } catch (const std::bad_alloc&) {
    throw CheckpointError(dir + ": the model its config.yaml and state.json describe does not fit in memory");
  } catch (const std::invalid_argument& e) {  // a model_shape the model cannot be built with (statnn: 0 tensors)
    throw CheckpointError(dir + "/state.json: model_shape " + m.shape.to_json().dump() + " does not suit model " +
                          m.config.model + " (" + e.what() + ")");
  }
  load_weights(dir, *m.model, nullptr);
  m.model->to(device_of(ctx));
  m.state = ck.state;
  return m;
}

Predictions predict(LoadedModel& m, std::shared_ptr<const zoo::ZooFile> z, const std::string& split,
                    const Context& ctx, int64_t invariance_samples, uint64_t seed) {
  require_property(*z, m.config.task.property);
  if (!split.empty()) require_scorable(*z, split, "the evaluated split", m.config.task.property);
  require_readable(m.config, m.shape, *z, split);
  Predictions p = predict_split(m.model, m.config, z, split, m.values, m.targets, ctx, invariance_samples, seed);
  const auto all = split.empty() ? z->num_networks() : static_cast<int64_t>(z->split(split).size());
  p.unknown_skipped = all - static_cast<int64_t>(p.index.size());
  return p;
}


}  // namespace sne::train
