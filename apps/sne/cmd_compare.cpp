// sne compare: SNE and the baselines trained and tested on the same zoo and splits, one table; optionally the
// data-efficiency curve (the metric against the fraction of the training split used).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/strings.h"
#include "signals.h"
#include "study.h"

namespace sne::app {
namespace {
namespace fs = std::filesystem;

struct CompareArgs {
  CommonOptions common;
  std::string models = "sne,mlp,deepsets,statnn";
  std::string fractions = "1";
  std::string out;
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
  return out;
}

// One trained and tested model: the test metrics plus training cost, kept in RUN/compare.json so that a rerun
// reuses finished rows.
Json run_one(const CompareArgs& a, const std::string& model, double fraction, const fs::path& dir, const Context& ctx) {
  const fs::path done = dir / "compare.json";
  if (fs::exists(done)) {
    spdlog::info("{}: finished earlier, reusing {}", model, done.string());
    return Json::parse(read_text_file(done));
  }
  CommonOptions o = a.common;
  o.sets.push_back("model=" + model);
  o.sets.push_back("task.train_fraction=" + format_number(fraction));
  const config::Config cfg = resolve_config(o);
  const bool resume = fs::exists(dir / "checkpoints" / "last");
  spdlog::info("{} (fraction {}): {} in {}", model, format_number(fraction), resume ? "resuming" : "training",
               dir.string());
  const auto report = run_training(cfg, dir.string(), resume, ctx);
  Json row = evaluate_checkpoint((dir / "checkpoints" / "best").string(), "", "", a.invariance_samples, ctx);
  double seconds = 0;  // every epoch of the run, validation included, across resumes
  int64_t epochs = 0;
  std::ifstream log(dir / "metrics.jsonl");
  for (std::string line; std::getline(log, line);)
    if (!trim(line).empty()) {
      seconds += Json::parse(line).at("seconds").as_number();
      ++epochs;
    }
  row.set("fraction", fraction);
  row.set("epochs", static_cast<long long>(epochs));
  row.set("train_seconds", seconds);
  // Throughput of the training steps run by this call ("-" when a resumed run had none left to do).
  row.set("train_networks_per_s", report.networks_trained > 0 && report.train_seconds > 0
                                      ? Json(static_cast<double>(report.networks_trained) / report.train_seconds)
                                      : Json());
  row.set("best_epoch", report.best.is_object() ? report.best.at("epoch") : Json());
  write_text_file(done, row.dump(2) + "\n");
  return row;
}

void compare_command(const CompareArgs& a) {
  if (a.common.config_files.empty()) throw UsageError("sne compare needs a CONFIG file (see configs/)");
  const auto models = parse_models(a.models);
  const auto fractions = parse_fractions(a.fractions);
  const config::Config base = resolve_config(a.common);
  install_stop_handlers();
  const Context ctx = start(base);
  std::error_code ec;
  fs::create_directories(a.out, ec);
  if (ec) throw IoError(a.out + ": cannot create the output directory (" + ec.message() + ")");
  spdlog::info("comparing {} on {} ({} -> {}); {}", join(models), base.zoo.path, base.task.train_split,
               base.task.property, describe_runtime(ctx));

  Json rows = Json::array();
  for (double f : fractions)
    for (const auto& m : models) {
      const std::string name = fractions.size() == 1 && f == 1.0 ? m : m + "_f" + format_number(f);
      rows.push_back(run_one(a, m, f, fs::path(a.out) / name, ctx));
    }

  const bool by_mse = base.task.loss == "mse";
  std::ostringstream md;
  md << "Zoo " << base.zoo.path << ", property " << base.task.property << ", test split '" << base.task.test_split
     << "'" << (by_mse ? "" : "; models chosen by validation Kendall tau") << ".\n\n";
  md << "| model | train fraction | test MSE | Kendall tau | R2 | invariance error | parameters | epochs (best) | "
        "train s | train networks/s | mean-predictor MSE |\n|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : rows.as_array())
    md << "| " << r.at("model").as_string() << " | " << number_cell(r, "fraction", 3) << " | " << number_cell(r, "mse") << " | "
       << number_cell(r, "kendall_tau") << " | " << number_cell(r, "r2") << " | " << number_cell(r, "invariance_error", 2) << " | "
       << r.at("parameters").as_int() << " | " << r.at("epochs").as_int() << " (" << number_cell(r, "best_epoch") << ") | "
       << number_cell(r, "train_seconds", 4) << " | " << number_cell(r, "train_networks_per_s", 4) << " | "
       << number_cell(r, "mean_predictor_mse") << " |\n";
  if (fractions.size() > 1) {
    md << "\nData efficiency: test " << (by_mse ? "MSE" : "Kendall tau") << " against the fraction of '"
       << base.task.train_split << "' used.\n\n| model |";
    for (double f : fractions) md << " " << format_number(f) << " |";
    md << "\n|---|";
    for (std::size_t k = 0; k < fractions.size(); ++k) md << "---|";
    md << "\n";
    for (std::size_t mi = 0; mi < models.size(); ++mi) {
      md << "| " << models[mi] << " |";
      for (std::size_t k = 0; k < fractions.size(); ++k)
        md << " " << number_cell(rows.as_array()[k * models.size() + mi], by_mse ? "mse" : "kendall_tau") << " |";
      md << "\n";
    }
  }
  write_text_file(fs::path(a.out) / "compare.md", md.str());
  write_text_file(fs::path(a.out) / "compare.json", rows.dump(2) + "\n");
  std::printf("%s", md.str().c_str());
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto a = std::make_shared<CompareArgs>();
  auto* cmd = app.add_subcommand(
      "compare", "train SNE and the baselines on the same zoo and splits and print one table (test metrics, "
                 "parameters, training time, networks/s); rerunning reuses finished models and resumes the rest");
  add_common_options(*cmd, a->common, true);
  cmd->add_option("--models", a->models, "comma-separated: sne, mlp, deepsets, statnn")->capture_default_str();
  cmd->add_option("--fractions", a->fractions,
                  "fractions of the training split, e.g. 0.1,0.25,0.5,1 for the data-efficiency curve")
      ->capture_default_str();
  cmd->add_option("-o,--out", a->out, "output directory: one run per model, compare.md, compare.json")->required();
  cmd->add_option("--invariance-samples", a->invariance_samples, "symmetry transforms per network in the test")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->callback([a] {
    require_one_process("compare");
    compare_command(*a);
  });
}

}  // namespace sne::app
