#include "train/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/error.h"
#include "core/strings.h"
#include "metrics/regression.h"
#include "train/batch.h"
#include "train/checkpoint.h"
#include "train/schedule.h"
#include "zoo/zoo_stream.h"

namespace sne::train {
namespace fs = std::filesystem;

namespace {

at::Device device_of(const Context& ctx) { return ctx.device == "cuda" ? at::Device(at::kCUDA) : at::Device(at::kCPU); }
int64_t budget_bytes(const config::Config& c) { return static_cast<int64_t>(c.zoo.reader.memory_budget_mb * (1 << 20)); }

zoo::StreamOptions stream_options(const config::Config& c, const std::string& split, bool shuffle) {
  zoo::StreamOptions o;
  o.split = split;
  o.properties = {c.task.property};
  o.batch_size = c.zoo.reader.batch_size;
  o.shuffle = shuffle;
  o.seed = static_cast<uint64_t>(c.run.seed);
  o.prefetch = c.zoo.reader.prefetch;
  o.memory_budget_bytes = budget_bytes(c);
  return o;
}

// Metrics need pairs: a split used for validation or testing must hold at least two networks.
void require_scorable(const zoo::ZooFile& z, const std::string& split, const std::string& key) {
  const auto n = z.split(split).size();
  if (n < 2)
    throw DataError(z.path() + ": split '" + split + "' (" + key + ") holds " + std::to_string(n) +
                    " network(s); scoring needs at least 2");
}

void require_property(const zoo::ZooFile& z, const std::string& property) {
  if (!z.has_property(property))
    throw DataError(z.path() + ": the zoo has no property '" + property + "' (task.property); it has: " +
                    (z.property_names().empty() ? std::string("none") : join(z.property_names())));
}

// The model's outputs on one prepared batch, and optionally the mean invariance gap over `samples` transforms.
std::pair<torch::Tensor, torch::Tensor> forward_with_invariance(Model& model, const zoo::NetworkBatch& b,
                                                               const zoo::ZooFile& z, const ValueNormalizer& values,
                                                               const TargetScaler& targets, int64_t chunk,
                                                               at::Device dev, int64_t samples, std::mt19937_64& rng,
                                                               PreparedBatch& prepared) {
  prepared = prepare_batch(b, z, values, &targets, chunk, dev);
  const torch::Tensor out = model->forward(prepared.input);
  torch::Tensor inv = torch::zeros({}, out.options());
  for (int64_t s = 0; s < samples; ++s) {
    const PreparedBatch g = prepare_batch(b, z, values, nullptr, chunk, dev, &rng);
    inv = inv + 0.5 * (out - model->forward(g.input)).pow(2).mean();
  }
  if (samples > 0) inv = inv / static_cast<double>(samples);
  return {out, inv};
}

Predictions predict_split(Model& model, const config::Config& c, std::shared_ptr<const zoo::ZooFile> z,
                          const std::string& split, const ValueNormalizer& values, const TargetScaler& targets,
                          const Context& ctx, int64_t samples, uint64_t seed) {
  torch::NoGradGuard no_grad;
  model->eval();
  zoo::ZooStream stream(z, stream_options(c, split, false));
  zoo::NetworkBatch b;
  Predictions p;
  std::mt19937_64 rng(seed);
  double inv_sum = 0;
  int64_t batches = 0;
  while (stream.next(b)) {
    PreparedBatch pb;
    auto [out, inv] = forward_with_invariance(model, b, *z, values, targets, c.encoder.chunk_size, device_of(ctx),
                                              samples, rng, pb);
    const torch::Tensor host = out.to(at::kDouble).cpu();
    for (int64_t i = 0; i < b.size(); ++i) {
      p.index.push_back(pb.index[static_cast<std::size_t>(i)]);
      p.truth.push_back(pb.truth[static_cast<std::size_t>(i)]);
      p.predicted.push_back(targets.from_model(host.data_ptr<double>()[i]));
    }
    inv_sum += inv.item<double>();
    ++batches;
  }
  p.invariance_error = batches ? inv_sum / static_cast<double>(batches) : 0.0;
  model->train();
  return p;
}

std::string rng_text(const std::mt19937_64& rng) {
  std::ostringstream s;
  s << rng;
  return s.str();
}

}  // namespace

TrainReport train(const TrainRequest& rq, const Context& ctx) {
  const config::Config& c = rq.config;
  const fs::path run(rq.run_dir), last = run / "checkpoints" / "last", best_dir = run / "checkpoints" / "best";
  auto z = zoo::ZooFile::open(c.zoo.path);
  require_property(*z, c.task.property);
  require_scorable(*z, c.task.validation_split, "task.validation_split");
  const at::Device dev = device_of(ctx);
  const std::string config_yaml = config::to_yaml(c);
  const bool lower_is_better = c.task.loss == "mse";

  // A resumed run's checkpoint, read once: its model shape, settings and state.
  const LoadedCheckpoint ck = rq.resume ? read_checkpoint(last.string()) : LoadedCheckpoint{};
  // The model's shape (input widths of the baselines) comes from the training split, or from the run resumed.
  const ModelShape shape = rq.resume ? ModelShape::from_json(ck.state.find("model_shape"))
                                     : model_shape(c, *z, c.task.train_split);
  require_readable(c, shape, *z, c.task.validation_split);
  torch::manual_seed(c.run.seed);
  Model model = make_model(c, shape);
  model->to(dev);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(c.train.lr).weight_decay(c.train.weight_decay));

  ValueNormalizer values;
  TargetScaler targets;
  int64_t epoch = 0, batch_in_epoch = 0, step = 0, stale = 0;
  double loss_sum = 0, inv_sum = 0;  // this epoch's running sums (kept across a resume)
  int64_t loss_batches = 0;
  double best = lower_is_better ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  Json best_record;
  std::mt19937_64 rng(static_cast<uint64_t>(c.run.seed) ^ 0x1f2e3d4cull);

  if (rq.resume) {
    config::Config saved = config::resolve({{(last / "config.yaml").string(), ck.config_yaml}}, {});
    saved.train.epochs = c.train.epochs;  // extending a run is allowed; anything else must match
    if (!(saved == c))
      throw CheckpointError(last.string() + ": the run was made with other settings; resume with its config (" +
                            (run / "config.yaml").string() + "), changing at most train.epochs");
    load_weights(last.string(), *model, &opt);
    const Json& s = ck.state;
    epoch = s.at("epoch").as_int();
    batch_in_epoch = s.at("batch_in_epoch").as_int();
    step = s.at("step").as_int();
    stale = s.at("stale_epochs").as_int();
    loss_sum = s.at("epoch_loss_sum").as_number();
    inv_sum = s.at("epoch_invariance_sum").as_number();
    loss_batches = s.at("epoch_batches").as_int();
    best = s.at("best_metric").is_number() ? s.at("best_metric").as_number() : best;
    if (const Json* br = s.find("best_record")) best_record = *br;
    std::istringstream(s.at("rng").as_string()) >> rng;
    values = ValueNormalizer::from_json(s.at("value_normalizer"));
    targets = TargetScaler::from_json(s.at("target_scaler"));
  } else {
    if (fs::exists(last))
      throw IoError(rq.run_dir + ": already holds a run; resume it with --resume or choose another --run-dir");
    std::error_code ec;
    fs::create_directories(run / "checkpoints", ec);
    if (ec) throw IoError(rq.run_dir + ": cannot create the run directory (" + ec.message() + ")");
    values = ValueNormalizer::fit(z, c.task.train_split, c.train.value_normalization, budget_bytes(c),
                                  c.task.train_fraction, static_cast<uint64_t>(c.run.seed));
    std::vector<double> y;
    const auto column = z->property(c.task.property);
    for (int64_t i : zoo::subset_of(z->split(c.task.train_split), c.task.train_fraction, static_cast<uint64_t>(c.run.seed)))
      y.push_back(column.at(static_cast<std::size_t>(i)));
    targets = TargetScaler::fit(y, c.task.loss);
    std::ofstream(run / "config.yaml") << config_yaml;
  }

  const auto state_json = [&] {
    Json s = Json::object();
    s.set("epoch", static_cast<long long>(epoch));
    s.set("batch_in_epoch", static_cast<long long>(batch_in_epoch));
    s.set("step", static_cast<long long>(step));
    s.set("stale_epochs", static_cast<long long>(stale));
    s.set("epoch_loss_sum", loss_sum);
    s.set("epoch_invariance_sum", inv_sum);
    s.set("epoch_batches", static_cast<long long>(loss_batches));
    s.set("best_metric", std::isfinite(best) ? Json(best) : Json());
    s.set("best_record", best_record);
    s.set("rng", rng_text(rng));
    s.set("value_normalizer", values.to_json());
    s.set("target_scaler", targets.to_json());
    s.set("model_shape", shape.to_json());
    s.set("property", c.task.property);
    s.set("zoo", c.zoo.path);
    return s;
  };
  const auto save = [&](const fs::path& where) { save_checkpoint(where.string(), *model, &opt, state_json(), config_yaml); };

  zoo::StreamOptions train_options = stream_options(c, c.task.train_split, c.zoo.reader.shuffle);
  train_options.subset_fraction = c.task.train_fraction;  // the data-efficiency knob; 1 = the whole split
  train_options.subset_seed = static_cast<uint64_t>(c.run.seed);
  zoo::ZooStream stream(z, train_options);
  const int64_t batches = (stream.size() + c.zoo.reader.batch_size - 1) / c.zoo.reader.batch_size;
  TrainReport report;
  const auto t_start = std::chrono::steady_clock::now();
  int64_t networks_seen = 0;
  double step_seconds = 0;  // training steps only, for the throughput in the report
  const auto finish = [&](TrainReport& r) {
    r.train_seconds = step_seconds;
    r.networks_trained = networks_seen;
  };
  while (epoch < c.train.epochs) {
    const auto t_epoch = std::chrono::steady_clock::now();
    stream.start_epoch(epoch);
    zoo::NetworkBatch b;
    for (int64_t k = 0; k < batch_in_epoch; ++k) stream.next(b);  // resumed mid-epoch: skip what is trained
    model->train();
    auto t_step = std::chrono::steady_clock::now();
    while (stream.next(b)) {
      const double lr = learning_rate(c.train, step, c.train.epochs * batches);
      for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
      PreparedBatch pb;
      // A model invariant to every symmetry by construction would get a zero term for a second forward pass.
      const int64_t samples =
          c.train.invariance_weight > 0 && !model->invariant_by_construction() ? c.train.invariance_samples : 0;
      auto [out, inv] = forward_with_invariance(model, b, *z, values, targets, c.encoder.chunk_size, dev, samples, rng, pb);
      const torch::Tensor task = c.task.loss == "mse" ? torch::mse_loss(out, pb.target)
                                                       : torch::binary_cross_entropy_with_logits(out, pb.target);
      const torch::Tensor loss = task + c.train.invariance_weight * inv;
      opt.zero_grad();
      loss.backward();
      if (c.train.grad_clip > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), c.train.grad_clip);
      opt.step();
      ++step;
      ++batch_in_epoch;
      networks_seen += b.size();
      const auto t_now = std::chrono::steady_clock::now();
      step_seconds += std::chrono::duration<double>(t_now - t_step).count();
      t_step = t_now;
      loss_sum += task.item<double>();
      inv_sum += inv.item<double>();
      ++loss_batches;
      if (rq.on_progress) {
        TrainProgress p;
        p.epoch = epoch;
        p.epochs = c.train.epochs;
        p.batch = batch_in_epoch;
        p.batches = batches;
        p.step = step;
        p.loss = loss_sum / static_cast<double>(loss_batches);
        p.invariance = inv_sum / static_cast<double>(loss_batches);
        p.lr = lr;
        p.networks_per_s = static_cast<double>(networks_seen) /
                           std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
        rq.on_progress(p);
      }
      if ((rq.stop && rq.stop->load()) || (rq.stop_after_steps >= 0 && step >= rq.stop_after_steps)) {
        save(last);
        report.interrupted = true;
        report.steps = step;
        report.epochs_done = epoch;
        report.best = best_record;
        finish(report);
        return report;
      }
    }

    // Validation, model selection, the metrics log.
    const Predictions p = predict_split(model, c, z, c.task.validation_split, values, targets, ctx, 0, 0);
    const auto m = metrics::evaluate(p.predicted, p.truth);
    Json record = Json::object();
    record.set("epoch", static_cast<long long>(epoch + 1));
    record.set("step", static_cast<long long>(step));
    record.set("train_loss", loss_batches ? loss_sum / static_cast<double>(loss_batches) : NAN);
    record.set("train_invariance", loss_batches ? inv_sum / static_cast<double>(loss_batches) : NAN);
    record.set("validation", metrics::to_json(m));
    record.set("seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t_epoch).count());
    const double score = lower_is_better ? m.mse : m.kendall_tau;
    const bool improved = lower_is_better ? score < best : score > best;
    ++epoch;
    batch_in_epoch = 0;
    loss_sum = inv_sum = 0;
    loss_batches = 0;
    if (improved) {
      best = score;
      stale = 0;
      best_record = record;
      save(best_dir);
    } else {
      ++stale;
    }
    record.set("best", improved);
    std::ofstream(run / "metrics.jsonl", std::ios::app) << record.dump() << "\n";
    if (rq.on_epoch) rq.on_epoch(record);
    save(last);
    if (c.train.early_stopping_patience > 0 && stale >= c.train.early_stopping_patience) {
      report.early_stopped = true;
      break;
    }
  }
  report.epochs_done = epoch;
  report.steps = step;
  report.best = best_record;
  finish(report);
  return report;
}

LoadedModel load_model(const std::string& dir, const Context& ctx) {
  const LoadedCheckpoint ck = read_checkpoint(dir);
  LoadedModel m;
  try {
    m.config = config::resolve({{dir + "/config.yaml", ck.config_yaml}}, {});
  } catch (const ConfigError& e) {
    throw CheckpointError(dir + "/config.yaml: not a config this sne reads (" + std::string(e.what()) + ")");
  }
  m.shape = ModelShape::from_json(ck.state.find("model_shape"));
  m.model = make_model(m.config, m.shape);
  load_weights(dir, *m.model, nullptr);
  m.model->to(device_of(ctx));
  m.values = ValueNormalizer::from_json(ck.state.at("value_normalizer"));
  m.targets = TargetScaler::from_json(ck.state.at("target_scaler"));
  m.state = ck.state;
  return m;
}

Predictions predict(LoadedModel& m, std::shared_ptr<const zoo::ZooFile> z, const std::string& split,
                    const Context& ctx, int64_t invariance_samples, uint64_t seed) {
  require_property(*z, m.config.task.property);
  if (!split.empty()) require_scorable(*z, split, "the evaluated split");
  require_readable(m.config, m.shape, *z, split);
  return predict_split(m.model, m.config, z, split, m.values, m.targets, ctx, invariance_samples, seed);
}

}  // namespace sne::train
