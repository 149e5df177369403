// sne transfer: train on each of some zoos, evaluate every trained model on the test split of every zoo, and
// print the Kendall tau matrix (rows: training zoo, columns: evaluation zoo) with its averages. Zoos of one
// architecture on several datasets give the cross-dataset table (paper Tables 5, 8); zoos of different
// architectures give the cross-architecture tables (Tables 2-4, 9).
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <sstream>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/strings.h"
#include "signals.h"
#include "study.h"
#include "train/checkpoint.h"

namespace sne::app {
namespace {
namespace fs = std::filesystem;

struct TransferArgs {
  CommonOptions common;
  std::string train_zoos, eval_zoos, models, split, out;  // "" = the config's transfer.* settings
  int64_t invariance_samples = 0;
};

// A short unique name per zoo for directories and table headers: the file stem, made unique with a number.
std::vector<std::string> zoo_names(const std::vector<std::string>& paths) {
  std::vector<std::string> names;
  std::set<std::string> used;
  for (const auto& p : paths) {
    std::string n = fs::path(p).stem().string(), base = n;
    for (int k = 2; used.count(n); ++k) n = base + "_" + std::to_string(k);
    used.insert(n);
    names.push_back(n);
  }
  return names;
}

// Trains (or resumes, or reuses) one model on one zoo in `dir`.
void train_on(const TransferArgs& a, const std::string& model, const std::string& zoo, const fs::path& dir,
              const Context& ctx) {
  const fs::path done = dir / "trained.json";
  if (fs::exists(done)) {
    spdlog::info("{} on {}: trained earlier, reusing {}", model, zoo, dir.string());
    return;
  }
  CommonOptions o = a.common;
  o.sets.push_back("model=" + model);
  o.sets.push_back("zoo.path=" + zoo);
  const config::Config cfg = resolve_config(o);
  const bool resume = fs::exists(dir / "checkpoints" / "last");
  spdlog::info("{} on {}: {} in {}", model, zoo, resume ? "resuming" : "training", dir.string());
  const auto report = run_training(cfg, dir.string(), resume, ctx);
  Json j = Json::object();
  j.set("zoo", zoo);
  j.set("model", model);
  j.set("epochs", static_cast<long long>(report.epochs_done));
  j.set("best", report.best);
  write_text_file(done, j.dump(2) + "\n");
}

// The metrics of one cell, cached in the training run's directory; {"error": ...} when the model cannot read
// the zoo (e.g. the MLP baseline on another architecture).
Json evaluate_cell(const TransferArgs& a, const fs::path& run, const std::string& eval_name, const std::string& zoo,
                   const Context& ctx) {
  const fs::path cache = run / ("eval_" + eval_name + ".json");
  if (fs::exists(cache)) return Json::parse(read_text_file(cache));
  Json j;
  try {
    j = evaluate_checkpoint((run / "checkpoints" / "best").string(), zoo, a.split, a.invariance_samples, ctx);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::io || e.kind() == ErrorKind::internal) throw;
    j = Json::object();
    j.set("zoo", zoo);
    j.set("error", std::string(e.what()));
    spdlog::warn("{} on {}: not applicable: {}", run.string(), zoo, e.what());
  }
  write_text_file(cache, j.dump(2) + "\n");
  return j;
}

std::string tau_cell(const Json& j) {
  if (j.find("error")) return "n/a";
  return fixed_cell(j, "kendall_tau");
}

void transfer_command(const TransferArgs& a) {
  if (a.common.config_files.empty()) throw UsageError("sne transfer needs a CONFIG file (see configs/cnn/)");
  const config::Config base = resolve_config(a.common);
  const auto models = parse_models(a.models.empty() ? base.transfer.models : a.models);
  const auto train_zoos = split_list(a.train_zoos.empty() ? base.transfer.train : a.train_zoos);
  const std::string eval_text = a.eval_zoos.empty() ? base.transfer.eval : a.eval_zoos;
  const auto eval_zoos = eval_text.empty() ? train_zoos : split_list(eval_text);
  if (train_zoos.empty())
    throw UsageError("no zoos to train on: give --train ZOO[,ZOO...] or set transfer.train in the config");
  for (const auto* list : {&train_zoos, &eval_zoos})
    for (const auto& z : *list)
      if (!fs::exists(z)) throw DataError(z + ": no such zoo file");
  const auto train_names = zoo_names(train_zoos), eval_names = zoo_names(eval_zoos);
  install_stop_handlers();
  const Context ctx = start(base);
  std::error_code ec;
  fs::create_directories(a.out, ec);
  if (ec) throw IoError(a.out + ": cannot create the output directory (" + ec.message() + ")");
  const std::string split = a.split.empty() ? base.task.test_split : a.split;
  spdlog::info("transfer: {} trained on {} zoo(s), evaluated on {} zoo(s) [{}], property {}; {}", join(models),
               train_zoos.size(), eval_zoos.size(), split, base.task.property, describe_runtime(ctx));

  Json result = Json::object();
  result.set("property", base.task.property);
  result.set("split", split);
  Json tables = Json::array();
  std::ostringstream md;
  md << "Kendall tau on the '" << split << "' split of each evaluation zoo (columns) of a model trained on each "
     << "training zoo (rows); property " << base.task.property << ".\n";
  for (const auto& model : models) {
    Json rows = Json::array();
    md << "\n**" << model << "**\n\n| trained on \\ evaluated on |";
    for (const auto& n : eval_names) md << " " << n << " |";
    md << " average | average, other zoos |\n|---|";
    for (std::size_t k = 0; k < eval_names.size() + 2; ++k) md << "---|";
    md << "\n";
    double all_sum = 0, off_sum = 0;
    int all_n = 0, off_n = 0;
    for (std::size_t t = 0; t < train_zoos.size(); ++t) {
      const fs::path run = fs::path(a.out) / model / train_names[t];
      fs::create_directories(run, ec);
      train_on(a, model, train_zoos[t], run, ctx);
      Json cells = Json::array();
      md << "| " << train_names[t] << " |";
      double row_sum = 0, row_off = 0;
      int row_n = 0, row_off_n = 0;
      for (std::size_t e = 0; e < eval_zoos.size(); ++e) {
        Json c = evaluate_cell(a, run, eval_names[e], eval_zoos[e], ctx);
        md << " " << tau_cell(c) << " |";
        if (const Json* tau = c.find("kendall_tau"); tau && tau->is_number()) {
          const bool same = fs::equivalent(train_zoos[t], eval_zoos[e], ec);
          row_sum += tau->as_number(), ++row_n;
          if (!same) row_off += tau->as_number(), ++row_off_n;
        }
        c.set("eval_zoo", eval_names[e]);
        cells.push_back(std::move(c));
      }
      const auto avg = [](double s, int n) { return n > 0 ? Json(s / n) : Json(); };
      Json row = Json::object();
      row.set("train_zoo", train_names[t]);
      row.set("train_path", train_zoos[t]);
      row.set("cells", cells);
      row.set("average", avg(row_sum, row_n));
      row.set("average_other_zoos", avg(row_off, row_off_n));
      md << " " << fixed_cell(row, "average") << " | " << fixed_cell(row, "average_other_zoos") << " |\n";
      all_sum += row_sum, all_n += row_n, off_sum += row_off, off_n += row_off_n;
      rows.push_back(std::move(row));
    }
    Json table = Json::object();
    table.set("model", model);
    table.set("rows", rows);
    table.set("average", all_n > 0 ? Json(all_sum / all_n) : Json());
    table.set("average_other_zoos", off_n > 0 ? Json(off_sum / off_n) : Json());
    md << "\nAverage of all cells " << fixed_cell(table, "average") << "; of the cells off the diagonal (a zoo "
       << "not trained on) " << fixed_cell(table, "average_other_zoos") << ".\n";
    tables.push_back(std::move(table));
  }
  result.set("tables", tables);
  write_text_file(fs::path(a.out) / "transfer.md", md.str());
  write_text_file(fs::path(a.out) / "transfer.json", result.dump(2) + "\n");
  std::printf("%s", md.str().c_str());
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
