#include "study/compare.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/strings.h"

namespace sne::study {
namespace fs = std::filesystem;

std::string compare_run_dir(const CompareSpec& spec, const std::string& variant, double fraction, int64_t seed) {
  const bool one_fraction = spec.fractions.size() == 1 && spec.fractions[0] == 1.0;
  fs::path p = fs::path(spec.out) / (one_fraction ? variant : variant + "_f" + format_number(fraction));
  if (!spec.seeds.empty()) p /= "seed-" + std::to_string(seed);
  return p.string();
}

std::vector<const CompareRow*> CompareResult::cell(const std::string& variant, double fraction) const {
  std::vector<const CompareRow*> out;
  for (const auto& r : rows)
    if (r.variant == variant && r.fraction == fraction) out.push_back(&r);
  return out;
}

CompareResult run_compare(const CompareSpec& spec, const Context& ctx, const Hooks& hooks) {
  if (spec.variants.empty()) throw UsageError("the study has no variants to train");
  const config::Config base = spec.config({}, {});
  CompareResult res;
  res.kind = spec.kind;
  res.zoo = base.zoo.path;
  res.property = base.task.property;
  res.train_split = base.task.train_split;
  res.test_split = base.task.test_split;
  res.loss = base.task.loss;
  res.fractions = spec.fractions;
  res.seeded = !spec.seeds.empty();
  res.seeds = res.seeded ? spec.seeds : std::vector<int64_t>{base.run.seed};
  for (const auto& v : spec.variants) res.variants.push_back(v.name);
  std::error_code ec;
  fs::create_directories(spec.out, ec);
  if (ec) throw IoError(spec.out + ": cannot create the output directory (" + ec.message() + ")");

  for (double f : spec.fractions)
    for (const auto& v : spec.variants)
      for (int64_t seed : res.seeds) {
        std::vector<std::string> overrides = v.overrides;
        overrides.push_back("task.train_fraction=" + format_number(f));
        if (res.seeded) overrides.push_back("run.seed=" + std::to_string(seed));
        const config::Config cfg = spec.config(v.overlays, overrides);
        const RunDir run(compare_run_dir(spec, v.name, f, seed));
        const bool wanted = spec.only.empty() || std::find(spec.only.begin(), spec.only.end(), v.name) != spec.only.end();
        if (!wanted && run.stage(cfg) != RunStage::finished) continue;  // another process's share
        CompareRow row;
        row.variant = v.name;
        row.fraction = f;
        row.seed = seed;
        row.run = train_run(cfg, run, ctx, hooks);
        row.run_rel = fs::path(run.root()).lexically_relative(spec.out).string();
        EvaluationRequest rq;
        rq.invariance_samples = spec.invariance_samples;
        std::error_code e2;
        if (fs::is_directory(run.best(), e2)) {
          row.test = evaluate_run(run, "test", rq, ctx);
        } else {  // no epoch gave a finite validation metric (a diverged run): the row says so, the others stand
          row.test.checkpoint = run.best().string();
          row.test.model = cfg.model;
          row.test.zoo = cfg.zoo.path;
          row.test.split = cfg.task.test_split;
          row.test.property = cfg.task.property;
          row.test.set_unavailable(run.best().string() + ": no best checkpoint (no epoch had a finite validation "
                                   "metric; see " + run.metrics_file().string() + ")");
          if (hooks.info) hooks.info(row.test.error);
        }
        res.rows.push_back(std::move(row));
      }
  const std::string stem = (fs::path(spec.out) / spec.kind).string();
  write_text_atomic(stem + ".md", res.markdown());
  write_text_atomic(stem + ".json", res.to_json().dump(2) + "\n");
  return res;
}

Json CompareResult::to_json() const {
  Json j = Json::object();
  j.set("kind", kind);
  j.set("zoo", zoo);
  j.set("property", property);
  j.set("train_split", train_split);
  j.set("test_split", test_split);
  j.set("loss", loss);
  Json vs = Json::array(), fs_ = Json::array(), ss = Json::array();
  for (const auto& v : variants) vs.push_back(v);
  for (double f : fractions) fs_.push_back(f);
  for (int64_t s : seeds) ss.push_back(static_cast<long long>(s));
  j.set("variants", vs);
  j.set("fractions", fs_);
  j.set("seeds", ss);
  j.set("seeded", seeded);
  Json rs = Json::array();
  for (const auto& r : rows) {
    Json row = Json::object();
    row.set("variant", r.variant);
    row.set("fraction", r.fraction);
    row.set("seed", static_cast<long long>(r.seed));
    row.set("run_dir", r.run.dir);
    if (!r.run_rel.empty()) row.set("run", r.run_rel);
    row.set("epochs", static_cast<long long>(r.run.epochs));
    row.set("best_epoch", static_cast<long long>(r.run.best_epoch));
    row.set("train_seconds", r.run.train_seconds);
    row.set("train_networks_per_s", finite_or_null(r.run.networks_per_s));
    row.set("test", r.test.to_json(/*with_predictions=*/false));
    rs.push_back(std::move(row));
  }
  j.set("rows", rs);
  return j;
}

CompareResult CompareResult::from_json(const Json& j, const std::string& what) {
  CompareResult r;
  try {
    r.kind = j.at("kind").as_string();
    r.zoo = j.at("zoo").as_string();
    r.property = j.at("property").as_string();
    r.train_split = j.at("train_split").as_string();
    r.test_split = j.at("test_split").as_string();
    r.loss = j.at("loss").as_string();
    for (const auto& v : j.at("variants").as_array()) r.variants.push_back(v.as_string());
    for (const auto& f : j.at("fractions").as_array()) r.fractions.push_back(f.as_number());
    for (const auto& s : j.at("seeds").as_array()) r.seeds.push_back(s.as_int());
    r.seeded = j.at("seeded").as_bool();
    for (const auto& x : j.at("rows").as_array()) {
      CompareRow row;
      row.variant = x.at("variant").as_string();
      row.fraction = x.at("fraction").as_number();
      row.seed = x.at("seed").as_int();
      row.run.dir = x.at("run_dir").as_string();
      if (const Json* rel = x.find("run"); rel && rel->is_string()) row.run_rel = rel->as_string();
      row.run.stage_before = RunStage::finished;
      row.run.epochs = x.at("epochs").as_int();
      row.run.best_epoch = x.at("best_epoch").as_int();
      row.run.train_seconds = x.at("train_seconds").as_number();
      row.run.networks_per_s = number_or_nan(x, "train_networks_per_s");
      row.test = Evaluation::from_json(x.at("test"), what);
      r.rows.push_back(std::move(row));
    }
  } catch (const DataError&) {
    throw;
  } catch (const std::exception& e) {
    throw DataError(what + ": not a compare or ablation result of this sne (" + e.what() + ")");
  }
  return r;
}

namespace {

Spread over(const std::vector<const CompareRow*>& rows, double (*get)(const CompareRow&)) {
  std::vector<double> v;
  for (const auto* r : rows) v.push_back(get(*r));
  return spread(v);
}

double row_mse(const CompareRow& r) { return r.test.metrics.mse; }
double row_tau(const CompareRow& r) { return r.test.metrics.kendall_tau; }
double row_r2(const CompareRow& r) { return r.test.metrics.r2; }
double row_inv(const CompareRow& r) { return r.test.invariance_error; }
double row_secs(const CompareRow& r) { return r.run.train_seconds; }
double row_rate(const CompareRow& r) { return r.run.networks_per_s; }
double row_epochs(const CompareRow& r) { return static_cast<double>(r.run.epochs); }
double row_mean(const CompareRow& r) { return r.test.mean_predictor_mse; }

}  // namespace

std::string CompareResult::markdown() const {
  const bool by_mse = loss == "mse";
  std::ostringstream md;
  const int n_seeds = static_cast<int>(seeds.size());
  md << "Zoo " << zoo << ", property " << property << ", test split '" << test_split << "'"
     << (by_mse ? "" : "; models chosen by validation Kendall tau") << "; "
     << (n_seeds > 1 ? "mean ± standard deviation over the seeds of each row (" + std::to_string(n_seeds) + " planned)"
                     : "one seed")
     << ".\n\n";
  md << "| " << (kind == "ablation" ? "row" : "model") << " | train fraction | seeds | test MSE | Kendall tau | R2 | "
     << "invariance error | parameters | epochs | train s | train networks/s | mean-predictor MSE |\n"
     << "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (double f : fractions)
    for (const auto& v : variants) {
      const auto rs = cell(v, f);
      if (rs.empty()) {
        md << "| " << v << " | " << format_number(f) << " | 0 | not run | | | | | | | | |\n";
        continue;
      }
      const auto tested = std::count_if(rs.begin(), rs.end(), [](const CompareRow* r) { return r->test.applicable(); });
      if (tested == 0) {
        md << "| " << v << " | " << format_number(f) << " | " << rs.size() << " | not tested: "
           << rs[0]->test.error << " | | | | | | | | |\n";
        continue;
      }
      md << "| " << v << " | " << format_number(f) << " | " << tested << " | " << format_spread(over(rs, row_mse), -4)
         << " | " << format_spread(over(rs, row_tau), 4) << " | " << format_spread(over(rs, row_r2), 4) << " | "
         << format_spread(over(rs, row_inv), -2) << " | "
         << (*std::find_if(rs.begin(), rs.end(), [](const CompareRow* r) { return r->test.applicable(); }))->test.parameters
         << " | "
         << format_spread(over(rs, row_epochs), 0) << " | " << format_spread(over(rs, row_secs), -4) << " | "
         << format_spread(over(rs, row_rate), -4) << " | " << format_spread(over(rs, row_mean), -4) << " |\n";
    }
  if (fractions.size() > 1) {
    md << "\nData efficiency: test " << (by_mse ? "MSE" : "Kendall tau") << " against the fraction of '" << train_split
       << "' used.\n\n| " << (kind == "ablation" ? "row" : "model") << " |";
    for (double f : fractions) md << " " << format_number(f) << " |";
    md << "\n|---|";
    for (std::size_t k = 0; k < fractions.size(); ++k) md << "---|";
    md << "\n";
    for (const auto& v : variants) {
      md << "| " << v << " |";
      for (double f : fractions) md << " " << format_spread(over(cell(v, f), by_mse ? row_mse : row_tau), by_mse ? -4 : 4) << " |";
      md << "\n";
    }
  }
  return md.str();
}

std::vector<Variant> ablation_variants(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw UsageError(dir + ": no such folder of ablation configs");
  std::vector<Variant> out;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".yaml") out.push_back({e.path().stem().string(), {e.path().string()}, {}});
  if (out.empty()) throw UsageError(dir + ": no *.yaml ablation configs in it");
  static const std::vector<std::string> order = {"full", "no_level", "no_type", "no_set_functions",
                                                 "no_positional_hierarchical", "no_invariance"};
  const auto rank = [](const std::string& n) {
    const auto it = std::find(order.begin(), order.end(), n);
    return static_cast<std::size_t>(it - order.begin());
  };
  std::sort(out.begin(), out.end(), [&](const Variant& a, const Variant& b) {
    return std::make_pair(rank(a.name), a.name) < std::make_pair(rank(b.name), b.name);
  });
  return out;
}

}  // namespace sne::study
