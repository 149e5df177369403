// sne train | eval | encode
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/files.h"
#include "core/strings.h"
#include "progress.h"
#include "signals.h"
#include "distributed/launch.h"
#include "distributed/process_group.h"
#include "study/evaluation.h"
#include "train/encode.h"
#include "zoo/embedding_merge.h"
#include "train/trainer.h"
#include "zoo/zoo_file.h"

namespace sne::app {
namespace {

struct TrainArgs {
  CommonOptions common;
  std::string run_dir;
  bool resume = false;
  std::string dist_backend = "gloo";
  int64_t dist_timeout_s = 300;
  int64_t dist_bucket_kb = 256;
};

}  // namespace

train::TrainReport run_training(const config::Config& cfg, const std::string& run_dir, bool resume, const Context& ctx,
                                train::Collective* collective, int64_t bucket_bytes) {
  const bool shows = !collective || collective->rank() == 0;  // rank 0 speaks for a data-parallel run
  if (shows)
    spdlog::info("training on {} ({} -> {}), run directory {}{}", cfg.zoo.path, cfg.task.train_split,
                 cfg.task.property, run_dir, resume ? " (resuming)" : "");
  train::TrainRequest rq;
  rq.config = cfg;
  rq.run_dir = run_dir;
  rq.resume = resume;
  rq.stop = install_stop_handlers();
  rq.collective = collective;
  rq.bucket_bytes = bucket_bytes;
  std::unique_ptr<Progress> bar;
  if (shows) rq.on_progress = [&](const train::TrainProgress& p) {
    if (!bar || p.batch == 1)
      bar = std::make_unique<Progress>("epoch " + std::to_string(p.epoch + 1) + "/" + std::to_string(p.epochs),
                                       p.batches, "batches");
    char extra[96];
    std::snprintf(extra, sizeof extra, "loss %.4g inv %.2g lr %.2g %.0f nets/s", p.loss, p.invariance, p.lr,
                  p.networks_per_s);
    bar->update(p.batch, extra);
  };
  if (shows) rq.on_note = [](const std::string& note) { spdlog::warn("{}", note); };
  if (shows) rq.on_epoch = [&](const Json& r) {
    const Json& v = r.at("validation");
    spdlog::info("epoch {}: train loss {:.4g}, validation MSE {:.4g}, tau {:.3f}{}", r.at("epoch").as_int(),
                 r.at("train_loss").as_number(), v.at("mse").as_number(), v.at("kendall_tau").as_number(),
                 r.at("best").as_bool() ? " (best)" : "");
  };
  const auto report = train::train(rq, ctx);
  if (report.interrupted) {
    if (shows) std::fprintf(stderr, "sne: interrupted: checkpoint saved in %s/checkpoints/last; continue with --resume\n",
                 run_dir.c_str());
    // A rank that stopped because another rank was signalled exits as if it had had SIGTERM itself.
    throw Interrupted{stop_signal() != 0 ? stop_signal() : SIGTERM};
  }
  return report;
}

namespace {

void train_command(const TrainArgs& a) {
  if (a.common.config_files.empty() && !a.resume) throw UsageError("sne train needs a CONFIG file (see configs/)");
  CommonOptions o = a.common;
  if (o.config_files.empty()) {  // --resume alone: the run's own config
    o.config_files.push_back(a.run_dir + "/config.yaml");
    o.saved_config = true;
  }
  const config::Config cfg = resolve_config(o);
  const distributed::Launch launch = distributed::detect_launch();
  Context ctx = start(cfg);
  if (launch.distributed() && cfg.run.threads == 0)  // "all cores" means this process's share of the host's
    ctx = make_context(cfg.run.device, std::max<int64_t>(1, ctx.threads / launch.local_world), cfg.run.seed);
  use_local_device(ctx, launch.local_rank);
  // In a data-parallel run every error names the rank it happened on (a DistributedError does already).
  const auto on_this_rank = [&](const auto& work) {
    try {
      work();
    } catch (const DistributedError&) {
      throw;
    } catch (const Error& e) {
      if (!launch.distributed()) throw;
      throw Error(e.kind(), "rank " + std::to_string(launch.rank) + " of " + std::to_string(launch.world) + ": " +
                                e.what());
    }
  };
  std::unique_ptr<train::Collective> collective;
  if (launch.distributed()) {
    if (launch.rank != 0) spdlog::set_level(spdlog::level::warn);  // rank 0 logs for the run
    spdlog::info("data-parallel: {} processes ({} variables), store {}:{}, backend {}", launch.world, launch.source,
                 launch.master_addr, launch.master_port, a.dist_backend);
    distributed::ConnectOptions co;
    co.backend = a.dist_backend;
    co.timeout = std::chrono::seconds(a.dist_timeout_s);
    on_this_rank([&] { collective = distributed::connect(launch, co); });
  }
  spdlog::info("runtime: {}", describe_runtime(ctx));
  train::TrainReport report;
  on_this_rank([&] { report = run_training(cfg, a.run_dir, a.resume, ctx, collective.get(), a.dist_bucket_kb << 10); });
  if (launch.rank != 0) return;
  if (report.train_seconds > 0) {
    const auto networks = static_cast<double>(report.networks_trained);
    spdlog::info("training steps: {:.0f} networks in {:.2f} s, {:.1f} networks/s{}", networks, report.train_seconds,
                 networks / report.train_seconds,
                 collective ? fmt::format(" on {} processes; {:.2f} s ({:.1f} % of the steps) waiting for the all-reduce",
                                          report.world_size, report.reduce_seconds,
                                          100 * report.reduce_seconds / report.train_seconds)
                            : std::string());
  }
  std::printf("%s: %lld epochs, %lld steps%s; best: %s\n", a.run_dir.c_str(),
              static_cast<long long>(report.epochs_done), static_cast<long long>(report.steps),
              report.early_stopped ? " (early stop)" : "", report.best.dump().c_str());
}

struct EvalArgs {
  CommonOptions common;
  std::string checkpoint, zoo, split = "", json_out, out, shard;
  int64_t invariance_samples = 5;
  bool overwrite = false, predictions = false;
};

}  // namespace

void print_evaluation(const study::Evaluation& e) {
  const auto num = [](double v) { return format_number(v); };
  std::printf("%s on %s [%s], %lld networks, property %s%s\n", e.checkpoint.c_str(), e.zoo.c_str(), e.split.c_str(),
              static_cast<long long>(e.metrics.count), e.property.c_str(),
              e.unknown_skipped ? (" (" + std::to_string(e.unknown_skipped) +
                                   " more with an unknown (NaN) property skipped)").c_str() : "");
  std::printf("  %-18s %s\n  %-18s %s\n  %-18s %s\n  %-18s %s\n  %-18s %s\n  %-18s %s\n  %-18s %s\n",
              "MSE", num(e.metrics.mse).c_str(), "MAE", num(e.metrics.mae).c_str(), "R2", num(e.metrics.r2).c_str(),
              "Kendall tau-b", num(e.metrics.kendall_tau).c_str(), "Spearman rho", num(e.metrics.spearman_rho).c_str(),
              "invariance error", num(e.invariance_error).c_str(), "mean-predictor MSE",
              num(e.mean_predictor_mse).c_str());
}

namespace {

void eval_command(const EvalArgs& a) {
  const Context ctx = start(resolve_config(a.common));
  study::EvaluationRequest rq;
  rq.checkpoint = a.checkpoint;
  rq.zoo = a.zoo;
  rq.split = a.split;
  rq.invariance_samples = a.invariance_samples;
  const study::Evaluation e = study::evaluate(rq, ctx);
  print_evaluation(e);
  if (!a.json_out.empty()) write_text_atomic(a.json_out, e.to_json(a.predictions).dump(2) + "\n");
}

// The shard of a sharded encode: --shard, else a SLURM array task's place in its array, else the rank of a
// torchrun/srun launch; {0, 1} when none applies.
train::EncodeShard encode_shard(const std::string& flag, const distributed::Launch& l) {
  if (!flag.empty()) {
    const auto [i, n] = distributed::parse_shard(flag, "--shard");
    return {i, n};
  }
  const char* task = std::getenv("SLURM_ARRAY_TASK_ID");
  const char* count = std::getenv("SLURM_ARRAY_TASK_COUNT");
  const char* min = std::getenv("SLURM_ARRAY_TASK_MIN");
  if (task && count) {
    const std::string text = std::to_string(std::atol(task) - (min ? std::atol(min) : 0)) + "/" + count;
    const auto [i, n] = distributed::parse_shard(text, "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT (an array with steps "
                                                       "other than 1 needs --shard)");
    return {i, n};
  }
  return {l.rank, l.world};
}

void encode_command(const EvalArgs& a) {
  Context ctx = start(resolve_config(a.common));
  const distributed::Launch launch = distributed::detect_launch();
  use_local_device(ctx, launch.local_rank);
  const train::EncodeShard shard = encode_shard(a.shard, launch);
  const std::string out = shard.count > 1 ? zoo::embedding_part_path(a.out, shard.index, shard.count) : a.out;
  auto m = train::load_model(a.checkpoint, ctx);
  auto z = zoo::ZooFile::open(a.zoo);
  LazyProgress bar(shard.count > 1 ? "encode " + std::to_string(shard.index) + "/" + std::to_string(shard.count) : "encode",
                   "networks");
  const int64_t n = train::encode_zoo(m, z, a.split, out, a.overwrite, ctx, bar.callback(), shard);
  bar.finish();
  std::printf("%s: %lld codes of dimension %lld\n", out.c_str(), static_cast<long long>(n),
              static_cast<long long>(m.config.encoder.dim));
  if (shard.count > 1)
    std::printf("part %d of %d; once all are written: sne encode-merge %s\n", shard.index + 1, shard.count, a.out.c_str());
}

struct MergeArgs {
  CommonOptions common;
  std::string out, zoo;
  bool overwrite = false, remove_parts = false;
};

void merge_command(const MergeArgs& a) {
  start(resolve_config(a.common));
  // The zoo the parts were encoded from orders the merged rows; the parts' provenance names it.
  std::string zoo_path = a.zoo;
  if (zoo_path.empty()) zoo_path = zoo::encoded_zoo_path(a.out);
  auto z = zoo::ZooFile::open(zoo_path);
  LazyProgress bar("merge", "codes");
  const int64_t n = zoo::merge_embedding_parts(a.out, *z, a.overwrite, a.remove_parts, bar.callback());
  bar.finish();
  std::printf("%s: %lld codes merged from its parts\n", a.out.c_str(), static_cast<long long>(n));
}

}  // namespace

void add_train_commands(CLI::App& app) {
  auto t = std::make_shared<TrainArgs>();
  auto* train_cmd = app.add_subcommand("train", "train a model from a config; SIGINT/SIGTERM save a checkpoint");
  add_common_options(*train_cmd, t->common, true);
  train_cmd->add_option("--run-dir", t->run_dir, "run directory: config.yaml, metrics.jsonl, checkpoints/")->required();
  train_cmd->add_flag("--resume", t->resume, "continue the run in --run-dir from checkpoints/last");
  train_cmd->add_option("--dist-backend", t->dist_backend,
                        "data-parallel runs (launched by torchrun or srun): the torch.distributed backend")
      ->check(CLI::IsMember({"gloo", "nccl"}))
      ->capture_default_str();
  train_cmd->add_option("--dist-timeout", t->dist_timeout_s,
                        "data-parallel runs: seconds to wait for the other processes, at the start and in every "
                        "collective, before failing with exit 6")
      ->check(CLI::Range(int64_t{1}, int64_t{86400}))
      ->capture_default_str();
  train_cmd->add_option("--dist-bucket-kb", t->dist_bucket_kb,
                        "data-parallel runs: KiB of gradients per all-reduce bucket; a bucket's all-reduce starts "
                        "during the backward pass once its gradients are final (the result does not depend on it)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 22))
      ->capture_default_str();
  train_cmd->callback([t] { train_command(*t); });

  auto e = std::make_shared<EvalArgs>();
  auto* eval_cmd = app.add_subcommand("eval", "metrics of a checkpoint on a zoo split: MSE, MAE, R2, Kendall tau, "
                                              "Spearman rho, invariance error, and the mean predictor's MSE");
  eval_cmd->add_option("checkpoint", e->checkpoint, "checkpoint directory (RUN/checkpoints/best)")->required();
  eval_cmd->add_option("--zoo", e->zoo, "zoo file (default: the one it was trained on)");
  eval_cmd->add_option("--split", e->split, "split (default: task.test_split)");
  eval_cmd->add_option("--json", e->json_out, "also write the metrics as JSON here");
  eval_cmd->add_flag("--predictions", e->predictions, "with --json: also every network's index, true and predicted value");
  eval_cmd->add_option("--invariance-samples", e->invariance_samples, "symmetry transforms per network")
      ->check(CLI::NonNegativeNumber);
  add_common_options(*eval_cmd, e->common, false);
  eval_cmd->callback([e] {
    require_one_process("eval");
    eval_command(*e);
  });

  auto n = std::make_shared<EvalArgs>();
  auto* encode_cmd = app.add_subcommand("encode", "write the code z of every network of a zoo (streamed)");
  encode_cmd->add_option("zoo", n->zoo, "zoo file")->required();
  encode_cmd->add_option("--checkpoint", n->checkpoint, "checkpoint directory")->required();
  encode_cmd->add_option("-o,--out", n->out, "embeddings file (HDF5)")->required();
  encode_cmd->add_option("--split", n->split, "only this split (default: every network)");
  encode_cmd->add_flag("--overwrite", n->overwrite, "replace an existing output file");
  encode_cmd->add_option("--shard", n->shard,
                         "encode only contiguous share I of N (0-based), into OUT.part-I-of-N; default: a SLURM array "
                         "task's place in its array, or the rank of a torchrun/srun launch; merge with sne encode-merge");
  add_common_options(*encode_cmd, n->common, false);
  encode_cmd->callback([n] { encode_command(*n); });

  auto g = std::make_shared<MergeArgs>();
  auto* merge_cmd = app.add_subcommand("encode-merge", "merge the parts of a sharded sne encode (OUT.part-I-of-N) into "
                                                       "OUT, the file an unsharded encode writes");
  merge_cmd->add_option("out", g->out, "the embeddings file the parts were written for (-o of sne encode)")->required();
  merge_cmd->add_option("--zoo", g->zoo, "the zoo that was encoded (default: the one the parts name)");
  merge_cmd->add_flag("--overwrite", g->overwrite, "replace an existing OUT");
  merge_cmd->add_flag("--remove-parts", g->remove_parts, "delete the parts once OUT is in place");
  add_common_options(*merge_cmd, g->common, false);
  merge_cmd->callback([g] {
    require_one_process("encode-merge");
    merge_command(*g);
  });
}

}  // namespace sne::app
