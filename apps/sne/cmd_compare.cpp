// sne compare: SNE and the baselines trained and tested on the same zoo and splits, one table; optionally the
// data-efficiency curve (the metric against the fraction of the training split used) and several seeds.
// sne ablate: the same for the rows of an ablation (one overlay config each, configs/ablations/).
// The studies themselves are lib/study/compare.h.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/strings.h"
#include "signals.h"
#include "study.h"
#include "study/compare.h"

namespace sne::app {
namespace {

struct CompareArgs {
  CommonOptions common;
  std::string models = "sne,mlp,deepsets,statnn";
  std::string fractions = "1";
  std::string seeds;  // "" = the config's run.seed only
  std::string out;
  std::string rows_dir, rows;  // sne ablate
  int64_t invariance_samples = 5;
};

std::vector<double> parse_fractions(const std::string& text) {
  std::vector<double> out;
  for (const auto& item : split_list(text)) {
    char* end = nullptr;
    const double f = std::strtod(item.c_str(), &end);
    if (end == item.c_str() || *end != '\0' || !(f > 0 && f <= 1))
      throw UsageError("--fractions: expected numbers in (0, 1], got '" + item + "'");
    out.push_back(f);
  }
  if (out.empty()) throw UsageError("--fractions: expected at least one fraction");
  for (std::size_t i = 0; i < out.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (out[i] == out[j]) throw UsageError("--fractions: " + format_number(out[i]) + " is listed twice in '" + text + "'");
  return out;
}

void run_study(const CompareArgs& a, study::CompareSpec spec, const char* command) {
  if (a.common.config_files.empty()) throw UsageError(std::string("sne ") + command + " needs a CONFIG file (see configs/)");
  spec.config = config_factory(a.common);
  const config::Config base = spec.config({}, {});
  spec.fractions = parse_fractions(a.fractions);
  if (!a.seeds.empty()) spec.seeds = study::parse_seeds(a.seeds, base.run.seed);
  spec.out = a.out;
  spec.invariance_samples = a.invariance_samples;
  install_stop_handlers();
  const Context ctx = start(base);
  std::vector<std::string> names;
  for (const auto& v : spec.variants) names.push_back(v.name);
  spdlog::info("{}: {} on {} ({} -> {}), {} seed(s); {}", command, join(names), base.zoo.path, base.task.train_split,
               base.task.property, spec.seeds.empty() ? 1 : spec.seeds.size(), describe_runtime(ctx));
  const auto result = study::run_compare(spec, ctx, study_hooks(ctx));
  std::printf("%s", result.markdown().c_str());
}

void add_study_options(CLI::App& cmd, CompareArgs& a) {
  add_common_options(cmd, a.common, true);
  cmd.add_option("--fractions", a.fractions,
                 "fractions of the training split, e.g. 0.1,0.25,0.5,1 for the data-efficiency curve")
      ->capture_default_str();
  cmd.add_option("--seeds", a.seeds,
                 "N seeds counting up from run.seed, or a list a,b,c: one run per seed in VARIANT/seed-S, tables of "
                 "mean ± standard deviation (default: run.seed alone)");
  cmd.add_option("--invariance-samples", a.invariance_samples, "symmetry transforms per network in the test")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto a = std::make_shared<CompareArgs>();
  auto* cmd = app.add_subcommand(
      "compare", "train SNE and the baselines on the same zoo and splits and print one table (test metrics, "
                 "parameters, training time, networks/s); rerunning reuses finished models and resumes the rest");
  add_study_options(*cmd, *a);
  cmd->add_option("--models", a->models, "comma-separated: sne, mlp, deepsets, statnn")->capture_default_str();
  cmd->add_option("-o,--out", a->out, "output directory: one run per model, compare.md, compare.json")->required();
  cmd->callback([a] {
    require_one_process("compare");
    study::CompareSpec spec;
    spec.kind = "compare";
    for (const auto& m : parse_models(a->models)) spec.variants.push_back({m, {}, {"model=" + m}});
    run_study(*a, std::move(spec), "compare");
  });
}

void add_ablate_command(CLI::App& app) {
  auto a = std::make_shared<CompareArgs>();
  auto* cmd = app.add_subcommand(
      "ablate", "the component ablation (paper Table 6): one run per overlay config in --rows-dir over CONFIG, each "
                "tested; ablation.md and ablation.json; rerunning reuses finished rows and resumes the rest");
  add_study_options(*cmd, *a);
  a->rows_dir = "configs/ablations";
  cmd->add_option("--rows-dir", a->rows_dir, "folder of overlay configs, one row each (NAME.yaml)")->capture_default_str();
  cmd->add_option("--rows", a->rows,
                  "train only these rows (comma-separated); the table also shows the others a previous call finished");
  cmd->add_option("-o,--out", a->out, "output directory: one run per row, ablation.md, ablation.json")->required();
  cmd->callback([a] {
    require_one_process("ablate");
    study::CompareSpec spec;
    spec.kind = "ablation";
    spec.variants = study::ablation_variants(a->rows_dir);
    spec.only = split_list(a->rows);
    for (const auto& r : spec.only) {
      bool known = false;
      for (const auto& v : spec.variants) known = known || v.name == r;
      if (!known) throw UsageError("--rows: no row '" + r + "' in " + a->rows_dir);
    }
    run_study(*a, std::move(spec), "ablate");
  });
}

}  // namespace sne::app
