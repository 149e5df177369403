#include "train/trainer.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/lock.h"
#include "core/strings.h"
#include "metrics/regression.h"
#include "train/batch.h"
#include "train/checkpoint.h"
#include "train/metrics_log.h"
#include "train/predict.h"
#include "train/state.h"
#include "train/step.h"
#include "train/schedule.h"
#include "train/shards.h"
#include "zoo/zoo_stream.h"

namespace sne::train {
namespace fs = std::filesystem;

namespace {

// "" or the note that some of `ids` (`known` of them with a known target) are skipped.
std::string unknown_note(const std::vector<int64_t>& ids, std::size_t known, const std::string& what,
                         const std::string& property) {
  if (known == ids.size()) return "";
  return what + ": " + std::to_string(ids.size() - known) + " of " + std::to_string(ids.size()) +
         " networks have an unknown '" + property + "' (NaN) and are skipped";
}

}  // namespace

namespace {

// The training split's fitted normalisers for a new run.
// `known_train`: the training subset's networks of known target.
void fit_normalizers(const config::Config& c, std::shared_ptr<const zoo::ZooFile> z,
                     const std::vector<int64_t>& known_train, TrainingState& st) {
  st.values = ValueNormalizer::fit(z, c.task.train_split, c.train.value_normalization, budget_bytes(c),
                                   c.task.train_fraction, static_cast<uint64_t>(c.run.seed));
  std::vector<double> y;
  const auto column = z->property(c.task.property);
  for (int64_t i : known_train) y.push_back(column[static_cast<std::size_t>(i)]);
  st.targets = TargetScaler::fit(y, c.task.loss);
}

}  // namespace

std::string zoo_fingerprint(const zoo::ZooFile& z, const std::string& property) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the bytes of everything that names the training data
  const auto mix = [&](const void* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char*>(p)[i]) * 1099511628211ull;
  };
  const int64_t n = z.num_networks();
  mix(&n, sizeof n);
  for (const auto& a : z.architectures()) mix(a.name.data(), a.name.size());
  for (const auto& s : z.split_names()) {
    mix(s.data(), s.size());
    const auto idx = z.split(s);
    mix(idx.data(), idx.size() * sizeof(int64_t));
  }
  if (z.has_property(property)) {
    const auto v = z.property(property);
    mix(v.data(), v.size() * sizeof(double));
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lld networks, %016llx", static_cast<long long>(n), static_cast<unsigned long long>(h));
  return buf;
}

void require_same_zoo(const Json& state, const zoo::ZooFile& z, const std::string& property,
                      const std::string& run_dir, const std::string& zoo_path) {
  const Json* saved = state.find("zoo_fingerprint");
  if (!saved || !saved->is_string()) return;
  const std::string now = zoo_fingerprint(z, property);
  if (saved->as_string() != now)
    throw CheckpointError(run_dir + ": trained on another zoo than the one now at " + zoo_path + " (fingerprint " +
                          saved->as_string() + ", now " + now + "); choose another run directory, or restore the zoo");
}

TrainReport train(const TrainRequest& rq, const Context& ctx) {
  const config::Config& c = rq.config;
  Collective* const col = rq.collective && rq.collective->size() > 1 ? rq.collective : nullptr;
  const int rank = col ? col->rank() : 0, world = col ? col->size() : 1;
  const bool writer = rank == 0;  // rank 0 alone writes the run directory
  const fs::path run(rq.run_dir), last = run / "checkpoints" / "last", best_dir = run / "checkpoints" / "best";
  auto z = zoo::ZooFile::open(c.zoo.path);
  require_property(*z, c.task.property);
  require_scorable(*z, c.task.validation_split, "task.validation_split", c.task.property);
  const at::Device dev = device_of(ctx);
  const std::string config_yaml = config::to_yaml(c);
  const bool lower_is_better = c.task.loss == "mse";
  const std::string fingerprint = zoo_fingerprint(*z, c.task.property);

  // One writer per run directory (rank 0 of a data-parallel run): a second sne on it is refused, naming the first.
  OutputLock run_lock;
  std::error_code ec;
  const std::string lock_path = (run / ".lock").string(), lock_what = rq.run_dir + " (run directory)";
  if (writer && fs::is_directory(run, ec)) run_lock = OutputLock::acquire(lock_path, lock_what);

  // A run stopped before its first checkpoint (its config.yaml, no checkpoint) starts again when resumed.
  bool resume = rq.resume;
  if (resume && !fs::exists(last / "state.json", ec) && fs::exists(run / "config.yaml", ec)) {
    std::ifstream f(run / "config.yaml");
    std::stringstream text;
    text << f.rdbuf();
    config::Config saved = config::resolve({{(run / "config.yaml").string(), text.str(), true}}, {});
    saved.train.epochs = c.train.epochs;
    if (!(saved == c))
      throw CheckpointError((run / "config.yaml").string() + ": the run was started with other settings; resume " +
                            "with its config, changing at most train.epochs");
    resume = false;
    if (rq.on_note)
      rq.on_note(rq.run_dir + ": no checkpoint yet (the run stopped before its first epoch ended); starting it from "
                 "the beginning");
  } else if (resume && !fs::exists(last / "state.json", ec) && !fs::exists(last, ec)) {
    // Killed before it wrote even its config.yaml (the folder may hold nothing but the lock): nothing to resume.
    resume = false;
    if (rq.on_note) rq.on_note(rq.run_dir + ": nothing to resume yet (no config.yaml, no checkpoint); starting the run");
  }

  // The state: a new run's, or the resumed checkpoint's (read once: its model shape, settings and state).
  TrainingState st;
  st.rng.seed(static_cast<uint64_t>(c.run.seed) ^ 0x1f2e3d4cull);
  LoadedCheckpoint ck;
  if (resume) {
    ck = read_checkpoint(last.string());
    config::Config saved = config::resolve({{(last / "config.yaml").string(), ck.config_yaml, true}}, {});
    saved.train.epochs = c.train.epochs;  // extending a run is allowed; anything else must match
    if (!(saved == c))
      throw CheckpointError(last.string() + ": the run was made with other settings; resume with its config (" +
                            (run / "config.yaml").string() + "), changing at most train.epochs");
    require_same_zoo(ck.state, *z, c.task.property, rq.run_dir, c.zoo.path);
    st = TrainingState::from_json(ck.state, (last / "state.json").string());
    if (writer) trim_metrics_log((run / "metrics.jsonl").string(), st.epoch);  // records `last` does not know of
  } else {
    if (fs::exists(last))
      throw IoError(rq.run_dir + ": already holds a run; resume it with --resume or choose another --run-dir");
    // The model's shape (input widths of the baselines) comes from the training split.
    st.shape = model_shape(c, *z, c.task.train_split);
    st.data_shards = c.train.data_shards > 0 ? c.train.data_shards : world;
  }
  // The data shards are the run's (fixed when it started); the processes are this launch's.
  const ShardPlan plan = ShardPlan::make(st.data_shards, rank, world, c.zoo.reader.batch_size);
  st.world_size = world;
  const std::vector<int64_t> train_ids =
      zoo::subset_of(z->split(c.task.train_split), c.task.train_fraction, static_cast<uint64_t>(c.run.seed));
  const std::vector<int64_t> validation_ids = z->split(c.task.validation_split);
  const std::vector<int64_t> known_train = zoo::with_known(*z, train_ids, c.task.property);
  const auto known_validation = zoo::with_known(*z, validation_ids, c.task.property).size();
  if (rq.on_note && writer) {
    for (const std::string& note :
         {unknown_note(train_ids, known_train.size(), "task.train_split '" + c.task.train_split + "'", c.task.property),
          unknown_note(validation_ids, known_validation,
                       "task.validation_split '" + c.task.validation_split + "'", c.task.property)})
      if (!note.empty()) rq.on_note(note);
  }
  if (plan.sharded()) {
    plan.require_networks(static_cast<int64_t>(known_train.size()),
                          "split '" + c.task.train_split + "' (task.train_split, task.train_fraction) with a known '" +
                              c.task.property + "'");
    plan.require_networks(static_cast<int64_t>(known_validation),
                          "split '" + c.task.validation_split + "' (task.validation_split) with a known '" +
                              c.task.property + "'");
  }
  require_readable(c, st.shape, *z, c.task.validation_split);
  torch::manual_seed(c.run.seed);
  require_model_fits(c, st.shape, 16);  // before a byte is allocated: Linux would grant it, then kill the process
  Model model = make_model(c, st.shape);
  model->to(dev);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(c.train.lr).weight_decay(c.train.weight_decay));
  if (resume) {
    load_weights(last.string(), *model, &opt);
  } else {
    fit_normalizers(c, z, known_train, st);  // on every rank: the same data, the same statistics
    st.best_metric = lower_is_better ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  }
  if (col) {
    // Every rank starts from rank 0's weights. This is also the first meeting point: no rank writes before
    // every rank has checked the run directory above.
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> tensors;
    for (auto& p : model->parameters()) tensors.push_back(p.data());
    for (auto& b : model->buffers()) tensors.push_back(b.data());
    col->broadcast(tensors, 0);
  }
  if (!resume && writer) {
    fs::create_directories(run / "checkpoints", ec);
    if (ec) throw IoError(rq.run_dir + ": cannot create the run directory (" + ec.message() + ")");
    if (!run_lock.held()) run_lock = OutputLock::acquire(lock_path, lock_what);
    fs::remove(run / "metrics.jsonl", ec);  // an attempt that stopped before its first checkpoint
    write_text_atomic((run / "config.yaml").string(), config_yaml);  // a kill never leaves a part of it
  }
  if (!st.has_best)
    st.best_metric = lower_is_better ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();

  // This epoch's running sums live on the model's device; they are read only to display or save.
  const auto dopts = torch::TensorOptions().dtype(torch::kDouble).device(dev);
  torch::Tensor loss_acc = torch::full({}, st.epoch_loss_sum, dopts), inv_acc = torch::full({}, st.epoch_invariance_sum, dopts);
  const auto sync_sums = [&] {
    st.epoch_loss_sum = loss_acc.item<double>();
    st.epoch_invariance_sum = inv_acc.item<double>();
  };
  const auto save = [&](const fs::path& where) {
    sync_sums();
    if (!writer) return;
    Json state = st.to_json(c.task.property, c.zoo.path);
    state.set("zoo_fingerprint", fingerprint);
    save_checkpoint(where.string(), *model, &opt, state, config_yaml);
  };

  zoo::StreamOptions train_options = stream_options(c, c.task.train_split, c.zoo.reader.shuffle);
  train_options.subset_fraction = c.task.train_fraction;  // the data-efficiency knob; 1 = the whole split
  train_options.subset_seed = static_cast<uint64_t>(c.run.seed);
  EpochBatches stream(z, train_options, plan, col);
  BatchPreparer preparer(*z, st.values, &st.targets, c.encoder.chunk_size, dev);
  std::unique_ptr<TrainStep> step;
  ShardedStep* sharded_step = nullptr;
  if (plan.sharded()) {
    auto s = std::make_unique<ShardedStep>(model, opt, c, col, z->architectures(), rq.bucket_bytes);
    sharded_step = s.get();
    step = std::move(s);
  } else {
    step = std::make_unique<LocalStep>(model, opt, c, st.rng, z->architectures());
  }
  if (rq.on_note && writer && c.train.invariance_weight > 0 && invariance_samples(model, c, z->architectures()) == 0)
    rq.on_note("train.invariance_weight: the model is invariant to every symmetry of " + c.zoo.path +
               " by construction (for SNE: its symmetries move whole chunks of encoder.chunk_size " +
               std::to_string(c.encoder.chunk_size) + " or stay inside one); the invariance term, always 0 here, is skipped");
  const int64_t batches = stream.steps_per_epoch();
  TrainReport report;
  const auto t_start = std::chrono::steady_clock::now();
  auto t_shown = t_start - std::chrono::hours(1);
  int64_t networks_seen = 0;
  double step_seconds = 0;  // training steps only, for the throughput in the report
  const auto finish = [&](TrainReport& r) {
    r.train_seconds = step_seconds;
    r.networks_trained = networks_seen;
    r.steps = st.step;
    r.best = st.best_record;
    r.world_size = world;
    r.reduce_seconds = sharded_step ? sharded_step->reduce_seconds() : 0.0;
  };
  const auto meet = [&] {  // the end of a call: no rank leaves while rank 0 may still be writing
    if (col) col->barrier();
  };
  while (st.epoch < c.train.epochs) {
    // One epoch: the training steps, then validation, model selection, the metrics log and `last`.
    const auto t_epoch = std::chrono::steady_clock::now();
    const int64_t networks_before = networks_seen;
    const double step_seconds_before = step_seconds;
    stream.start_epoch(st.epoch);
    std::vector<zoo::NetworkBatch> parts;
    for (int64_t k = 0; k < st.batch_in_epoch; ++k) stream.next(parts);  // resumed mid-epoch: skip what is trained
    model->train();
    auto t_step = std::chrono::steady_clock::now();
    std::vector<PreparedBatch> prepared;
    while (stream.next(parts)) {
      const double lr = learning_rate(c.train, st.step, c.train.epochs * batches);
      StepInput in;
      in.step = st.step;
      in.stop_requested = rq.stop && rq.stop->load();
      prepared.clear();
      prepared.reserve(parts.size());
      for (std::size_t k = 0; k < parts.size(); ++k) {
        if (parts[k].size() == 0) continue;
        prepared.push_back(preparer.prepare(parts[k]));
        in.shards.push_back(plan.first + static_cast<int64_t>(k));
      }
      for (const auto& pb : prepared) in.parts.push_back(&pb);
      const StepLosses l = step->run(in, preparer, lr);
      networks_seen += l.networks;
      ++st.step;
      ++st.batch_in_epoch;
      ++st.epoch_batches;
      loss_acc += l.task.to(torch::kDouble);
      inv_acc += l.invariance.to(torch::kDouble);
      const auto t_now = std::chrono::steady_clock::now();
      step_seconds += std::chrono::duration<double>(t_now - t_step).count();
      t_step = t_now;
      // The progress display reads the device sums at most four times a second (a read synchronises).
      if (rq.on_progress && (t_now - t_shown > std::chrono::milliseconds(250) || st.batch_in_epoch == batches)) {
        t_shown = t_now;
        sync_sums();
        TrainProgress p;
        p.epoch = st.epoch;
        p.epochs = c.train.epochs;
        p.batch = st.batch_in_epoch;
        p.batches = batches;
        p.step = st.step;
        p.loss = st.epoch_loss_sum / static_cast<double>(st.epoch_batches);
        p.invariance = st.epoch_invariance_sum / static_cast<double>(st.epoch_batches);
        p.lr = lr;
        p.networks_per_s = static_cast<double>(networks_seen) / std::chrono::duration<double>(t_now - t_start).count();
        rq.on_progress(p);
      }
      // Several processes stop at the step they agreed on (the step's all-reduce carries the requests).
      const bool signalled = col ? l.stop : (rq.stop && rq.stop->load());
      if (signalled || (rq.stop_after_steps >= 0 && st.step >= rq.stop_after_steps)) {
        save(last);
        report.interrupted = true;
        report.epochs_done = st.epoch;
        finish(report);
        meet();
        return report;
      }
    }
    sync_sums();
    // A loss that became NaN or infinite never comes back: stop before anything is saved over the last finite
    // checkpoint, rather than train on and print NaN metrics.
    st.require_finite_loss(c.train.lr, c.train.grad_clip);
    const Predictions p =
        plan.sharded() ? predict_shards(model, c, z, c.task.validation_split, st.values, st.targets, ctx, plan, col)
                       : predict_split(model, c, z, c.task.validation_split, st.values, st.targets, ctx, 0, 0);
    const auto m = metrics::evaluate(p.predicted, p.truth);
    Json record = Json::object();
    record.set("epoch", static_cast<long long>(st.epoch + 1));
    record.set("step", static_cast<long long>(st.step));
    const double nb = static_cast<double>(st.epoch_batches);
    record.set("train_loss", st.epoch_batches ? st.epoch_loss_sum / nb : NAN);
    record.set("train_invariance", st.epoch_batches ? st.epoch_invariance_sum / nb : NAN);
    record.set("lr", learning_rate(c.train, std::max<int64_t>(st.step - 1, 0), c.train.epochs * batches));  // its last step's
    record.set("validation", metrics::to_json(m));
    record.set("seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t_epoch).count());
    // The training steps of this call in this epoch: a resumed epoch counts only what ran after the resume.
    record.set("step_seconds", step_seconds - step_seconds_before);
    record.set("networks_trained", static_cast<long long>(networks_seen - networks_before));
    const double score = lower_is_better ? m.mse : m.kendall_tau;
    const bool improved = lower_is_better ? score < st.best_metric : score > st.best_metric;
    ++st.epoch;
    st.batch_in_epoch = 0;
    st.epoch_loss_sum = st.epoch_invariance_sum = 0;
    st.epoch_batches = 0;
    loss_acc.zero_();
    inv_acc.zero_();
    if (improved) {
      st.best_metric = score;
      st.has_best = true;
      st.stale_epochs = 0;
      st.best_record = record;
      save(best_dir);
    } else {
      ++st.stale_epochs;
    }
    record.set("best", improved);
    if (writer) {
      append_metrics_record((run / "metrics.jsonl").string(), record);
    }
    if (rq.on_epoch) rq.on_epoch(record);
    save(last);
    if (c.train.early_stopping_patience > 0 && st.stale_epochs >= c.train.early_stopping_patience) {
      report.early_stopped = true;
      break;
    }
  }
  report.epochs_done = st.epoch;
  finish(report);
  meet();
  return report;
}

}  // namespace sne::train
