// sne transfer: train on each of some zoos, evaluate every trained model on the test split of every zoo, and
// print the Kendall tau matrix (rows: training zoo, columns: evaluation zoo) with its averages. Zoos of one
// architecture on several datasets give the cross-dataset table (paper Tables 5, 8); zoos of different
// architectures give the cross-architecture tables (Tables 2-4, 9).
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/strings.h"
#include "signals.h"
#include "study.h"
#include "study/transfer.h"

namespace sne::app {
namespace {
struct TransferArgs {
  CommonOptions common;
  std::string train_zoos, eval_zoos, models, split, out, seeds;  // "" = the config's transfer.* settings
  int64_t invariance_samples = 0;
};

void transfer_command(const TransferArgs& a) {
  if (a.common.config_files.empty()) throw UsageError("sne transfer needs a CONFIG file (see configs/cnn/)");
  study::TransferSpec spec;
  spec.config = config_factory(a.common);
  const config::Config base = spec.config({}, {});
  spec.models = parse_models(a.models.empty() ? base.transfer.models : a.models);
  spec.train_zoos = split_list(a.train_zoos.empty() ? base.transfer.train : a.train_zoos);
  spec.eval_zoos = split_list(a.eval_zoos.empty() ? base.transfer.eval : a.eval_zoos);
  for (const auto& [list, flag] : {std::make_pair(&spec.train_zoos, "--train (transfer.train)"),
                                   std::make_pair(&spec.eval_zoos, "--eval (transfer.eval)")})
    if (const std::string d = first_duplicate(*list); !d.empty())
      throw UsageError(std::string(flag) + ": zoo " + d + " is listed twice");
  spec.split = a.split;
  if (!a.seeds.empty()) spec.seeds = study::parse_seeds(a.seeds, base.run.seed);
  spec.out = a.out;
  spec.invariance_samples = a.invariance_samples;
  install_stop_handlers();
  const Context ctx = start(base);
  spdlog::info("transfer: {} trained on {} zoo(s), evaluated on {} zoo(s), property {}, {} seed(s); {}",
               join(spec.models), spec.train_zoos.size(), spec.eval_zoos.empty() ? spec.train_zoos.size() : spec.eval_zoos.size(),
               base.task.property, spec.seeds.empty() ? 1 : spec.seeds.size(), describe_runtime(ctx));
  const auto result = study::run_transfer(spec, ctx, study_hooks(ctx));
  std::printf("%s", result.markdown().c_str());
}

}  // namespace

void add_transfer_command(CLI::App& app) {
  auto a = std::make_shared<TransferArgs>();
  auto* cmd = app.add_subcommand(
      "transfer", "train on each --train zoo, evaluate on the test split of every --eval zoo, print the Kendall tau "
                  "matrix with its averages (cross-dataset and cross-architecture tasks); rerunning reuses finished "
                  "models and cells and resumes the rest");
  add_common_options(*cmd, a->common, true);
  cmd->add_option("--train", a->train_zoos, "comma-separated zoo files to train on, one model each [transfer.train]");
  cmd->add_option("--eval", a->eval_zoos, "comma-separated zoo files to evaluate on (default: the train zoos) [transfer.eval]");
  cmd->add_option("--models", a->models, "comma-separated: sne, mlp, deepsets, statnn [transfer.models]");
  cmd->add_option("--split", a->split, "split of the evaluation zoos (default: task.test_split)");
  cmd->add_option("--seeds", a->seeds,
                  "N seeds counting up from run.seed, or a list a,b,c: one model per seed in MODEL/TRAIN_ZOO/seed-S, "
                  "cells of mean ± standard deviation (default: run.seed alone)");
  cmd->add_option("-o,--out", a->out, "output directory: MODEL/TRAIN_ZOO runs, transfer.md, transfer.json")->required();
  cmd->add_option("--invariance-samples", a->invariance_samples, "symmetry transforms per network in each evaluation")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->callback([a] {
    require_one_process("transfer");
    transfer_command(*a);
  });
}

}  // namespace sne::app
