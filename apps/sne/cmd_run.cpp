// sne run [CONFIG...]: a config's whole pipeline: build or complete the zoo with its generator, check it,
// summarise it, then (run.train) train or resume in run.dir and evaluate the best model on the test split, and
// (run.report) draw the run's report in run.dir/report.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "progress.h"
#include "signals.h"
#include "report/report.h"
#include "study/evaluation.h"
#include "study.h"
#include "zoo/zoo_check.h"
#include "zoo/zoo_file.h"

namespace sne::app {
namespace {

void prepare_zoo(const config::Config& cfg, const Context& ctx) {
  if (cfg.zoo.generator == "none") {
    if (!std::filesystem::exists(cfg.zoo.path))
      throw DataError(cfg.zoo.path + ": no such file (zoo.path; set zoo.generator to build it)");
    return;
  }
  if (std::filesystem::exists(cfg.zoo.path)) spdlog::info("{}: exists; completing it if needed", cfg.zoo.path);
  build_zoo(cfg, ctx, cfg.zoo.generator);
}

void run(const CommonOptions& o) {
  const config::Config cfg = resolve_config(o, /*use_embedded_default=*/true);
  install_stop_handlers();  // before the runtime starts: a stop requested during CUDA initialisation is honoured
  const Context ctx = start(cfg);
  spdlog::info("sne run: {} ({})", o.config_files.empty() ? "embedded default config" : o.config_files.back(),
               describe_runtime(ctx));
  prepare_zoo(cfg, ctx);
  auto zoo = zoo::ZooFile::open(cfg.zoo.path);
  const auto report = zoo::check_zoo(zoo, config::budget_bytes(cfg.zoo.reader.memory_budget_mb));
  if (!report.ok()) {
    for (const auto& p : report.problems) std::fprintf(stderr, "sne: invalid: %s\n", p.c_str());
    throw DataError(cfg.zoo.path + ": " + std::to_string(report.problems.size()) + " problem(s) found");
  }
  std::fputs(zoo::to_text(zoo::summarize(*zoo)).c_str(), stdout);
  std::printf("\n%s: valid (%lld networks scanned, weights all finite)\n", cfg.zoo.path.c_str(),
              static_cast<long long>(report.networks_scanned));
  if (!cfg.run.train) return;

  // Train, or resume an unfinished run, or reuse a finished one (study/run_dir.h's rule); then test the best model.
  const study::RunDir run(cfg.run.dir);
  study::train_run(cfg, run, ctx, study_hooks(ctx));
  std::printf("\n");
  study::EvaluationRequest rq;
  print_evaluation(study::evaluate_run(run, "test", rq, ctx));
  if (!cfg.run.report) return;
  report::ReportRequest rr;
  rr.input = cfg.run.dir;
  rr.out = cfg.run.dir + "/report";
  rr.info = [](const std::string& line) { spdlog::debug("{}", line); };
  try {
    const auto out = report::write_report(rr, ctx);
    std::printf("\nfigures: %s/index.html (%lld figures)\n", out.out.c_str(), static_cast<long long>(out.figures));
  } catch (const Error& e) {  // no Python or matplotlib, a full disk: the run and its results above stand
    spdlog::warn("no report drawn: {} (the run is complete; sne report {} draws it later; run.report=false turns "
                 "this off)", e.what(), cfg.run.dir);
  }
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto o = std::make_shared<CommonOptions>();
  auto* cmd = app.add_subcommand(
      "run", "run a config's pipeline (with no CONFIG, the embedded default, configs/default.yaml): build or "
             "complete its zoo with zoo.generator, validate and summarise it, then train (or resume) in run.dir, "
             "evaluate on the test split next to the mean predictor, and draw the figures in run.dir/report");
  add_common_options(*cmd, *o, true);
  cmd->callback([o] {
    require_one_process("run");
    run(*o);
  });
}

}  // namespace sne::app
