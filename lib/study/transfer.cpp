#include "study/transfer.h"

#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/strings.h"
#include "zoo/zoo_file.h"

namespace sne::study {
namespace fs = std::filesystem;

std::vector<std::string> zoo_names(const std::vector<std::string>& paths) {
  std::vector<std::string> names;
  std::set<std::string> used;
  for (const auto& p : paths) {
    std::string n = safe_name(fs::path(p).stem().string()), base = n;
    for (int k = 2; used.count(n); ++k) n = base + "_" + std::to_string(k);
    used.insert(n);
    names.push_back(n);
  }
  return names;
}

Spread TransferEntry::tau() const {
  std::vector<double> v;
  for (const auto& c : seeds)
    if (c.eval.applicable()) v.push_back(c.eval.metrics.kendall_tau);
  return spread(v);
}

bool TransferEntry::applicable() const {
  for (const auto& c : seeds)
    if (c.eval.applicable()) return true;
  return false;
}

double TransferResult::row_average(const TransferTable& t, std::size_t train, bool other_zoos_only) const {
  std::vector<double> v;
  for (std::size_t e = 0; e < eval_names.size(); ++e) {
    const auto& x = t.at(train, e, eval_names.size());
    if (other_zoos_only && x.same_zoo) continue;
    if (x.applicable()) v.push_back(x.tau().mean);
  }
  return spread(v).mean;
}

double TransferResult::table_average(const TransferTable& t, bool other_zoos_only) const {
  std::vector<double> v;
  for (const auto& x : t.entries)
    if (!(other_zoos_only && x.same_zoo) && x.applicable()) v.push_back(x.tau().mean);
  return spread(v).mean;
}

namespace {

std::set<std::string> architectures_of(const std::string& path) {
  std::set<std::string> out;
  const auto z = zoo::ZooFile::open(path);  // held: the loop reads its architectures
  for (const auto& a : z->architectures()) out.insert(a.name);
  return out;
}

}  // namespace

TransferResult run_transfer(const TransferSpec& spec, const Context& ctx, const Hooks& hooks) {
  TransferResult res;
  const config::Config base = spec.config({}, {});
  res.property = base.task.property;
  res.split = spec.split.empty() ? base.task.test_split : spec.split;
  res.train_paths = spec.train_zoos;
  res.eval_paths = spec.eval_zoos.empty() ? spec.train_zoos : spec.eval_zoos;
  if (res.train_paths.empty())
    throw UsageError("no zoos to train on: give --train ZOO[,ZOO...] or set transfer.train in the config");
  if (spec.models.empty()) throw UsageError("no models to train: give --models or set transfer.models");
  std::vector<std::set<std::string>> train_archs, eval_archs;
  for (const auto* list : {&res.train_paths, &res.eval_paths})
    for (const auto& z : *list) {
      std::error_code ec;
      if (!fs::is_regular_file(z, ec)) throw DataError(z + ": no such zoo file");
      (list == &res.train_paths ? train_archs : eval_archs).push_back(architectures_of(z));
    }
  res.train_names = zoo_names(res.train_paths);
  res.eval_names = zoo_names(res.eval_paths);
  res.seeded = !spec.seeds.empty();
  res.seeds = res.seeded ? spec.seeds : std::vector<int64_t>{base.run.seed};
  std::error_code ec;
  fs::create_directories(spec.out, ec);
  if (ec) throw IoError(spec.out + ": cannot create the output directory (" + ec.message() + ")");

  for (const auto& model : spec.models) {
    TransferTable table;
    table.model = model;
    for (std::size_t t = 0; t < res.train_paths.size(); ++t)
      for (std::size_t e = 0; e < res.eval_paths.size(); ++e) {
        TransferEntry x;
        x.train = t;
        x.eval = e;
        x.same_zoo = fs::equivalent(res.train_paths[t], res.eval_paths[e], ec);
        for (const auto& a : eval_archs[e])
          if (!train_archs[t].count(a)) x.unseen_architecture = true;
        table.entries.push_back(std::move(x));
      }
    for (int64_t seed : res.seeds)
      for (std::size_t t = 0; t < res.train_paths.size(); ++t) {
        std::vector<std::string> overrides = {"model=" + model, "zoo.path=" + res.train_paths[t]};
        if (res.seeded) overrides.push_back("run.seed=" + std::to_string(seed));
        const config::Config cfg = spec.config({}, overrides);
        fs::path dir = fs::path(spec.out) / model / res.train_names[t];
        if (res.seeded) dir /= "seed-" + std::to_string(seed);
        const RunDir run(dir);
        train_run(cfg, run, ctx, hooks);
        for (std::size_t e = 0; e < res.eval_paths.size(); ++e) {
          EvaluationRequest rq;
          rq.zoo = res.eval_paths[e];
          rq.split = res.split;
          rq.invariance_samples = spec.invariance_samples;
          TransferCell c;
          c.seed = seed;
          c.eval = evaluate_run(run, safe_name(res.eval_names[e] + "-" + res.split), rq, ctx, /*tolerate_unreadable=*/true);
          if (!c.eval.applicable() && hooks.info) hooks.info(model + " on " + res.eval_names[e] + ": not applicable: " + c.eval.error);
          table.entries[t * res.eval_paths.size() + e].seeds.push_back(std::move(c));
        }
      }
    res.tables.push_back(std::move(table));
  }
  write_text_atomic((fs::path(spec.out) / "transfer.md").string(), res.markdown());
  write_text_atomic((fs::path(spec.out) / "transfer.json").string(), res.to_json().dump(2) + "\n");
  return res;
}

Json TransferResult::to_json() const {
  Json j = Json::object();
  j.set("kind", "transfer");
  j.set("property", property);
  j.set("split", split);
  Json ss = Json::array();
  for (int64_t s : seeds) ss.push_back(static_cast<long long>(s));
  j.set("seeds", ss);
  j.set("seeded", seeded);
  const auto zoos = [](const std::vector<std::string>& names, const std::vector<std::string>& paths) {
    Json a = Json::array();
    for (std::size_t k = 0; k < names.size(); ++k) {
      Json z = Json::object();
      z.set("name", names[k]);
      z.set("path", paths[k]);
      a.push_back(z);
    }
    return a;
  };
  j.set("train_zoos", zoos(train_names, train_paths));
  j.set("eval_zoos", zoos(eval_names, eval_paths));
  Json tables_j = Json::array();
  for (const auto& t : tables) {
    Json rows = Json::array();
    for (std::size_t tr = 0; tr < train_names.size(); ++tr) {
      Json cells = Json::array();
      for (std::size_t e = 0; e < eval_names.size(); ++e) {
        const auto& x = t.at(tr, e, eval_names.size());
        const Spread s = x.tau();
        Json c = Json::object();
        c.set("eval_zoo", eval_names[e]);
        c.set("kendall_tau", finite_or_null(s.mean));
        c.set("kendall_tau_std", finite_or_null(s.count > 1 ? s.std : NAN));
        c.set("same_zoo", x.same_zoo);
        c.set("unseen_architecture", x.unseen_architecture);
        if (!x.applicable() && !x.seeds.empty()) c.set("error", x.seeds[0].eval.error);
        Json per_seed = Json::array();
        for (const auto& sc : x.seeds) {
          Json k = Json::object();
          k.set("seed", static_cast<long long>(sc.seed));
          k.set("evaluation", sc.eval.to_json(false));
          per_seed.push_back(k);
        }
        c.set("seeds", per_seed);
        cells.push_back(c);
      }
      Json row = Json::object();
      row.set("train_zoo", train_names[tr]);
      row.set("train_path", train_paths[tr]);
      row.set("cells", cells);
      row.set("average", finite_or_null(row_average(t, tr, false)));
      row.set("average_other_zoos", finite_or_null(row_average(t, tr, true)));
      rows.push_back(row);
    }
    Json tj = Json::object();
    tj.set("model", t.model);
    tj.set("rows", rows);
    tj.set("average", finite_or_null(table_average(t, false)));
    tj.set("average_other_zoos", finite_or_null(table_average(t, true)));
    tables_j.push_back(tj);
  }
  j.set("tables", tables_j);
  return j;
}

TransferResult TransferResult::from_json(const Json& j, const std::string& what) {
  TransferResult r;
  try {
    if (j.at("kind").as_string() != "transfer") throw std::runtime_error("kind is not 'transfer'");
    r.property = j.at("property").as_string();
    r.split = j.at("split").as_string();
    for (const auto& s : j.at("seeds").as_array()) r.seeds.push_back(s.as_int());
    r.seeded = j.at("seeded").as_bool();
    for (const auto& z : j.at("train_zoos").as_array())
      r.train_names.push_back(z.at("name").as_string()), r.train_paths.push_back(z.at("path").as_string());
    for (const auto& z : j.at("eval_zoos").as_array())
      r.eval_names.push_back(z.at("name").as_string()), r.eval_paths.push_back(z.at("path").as_string());
    for (const auto& tj : j.at("tables").as_array()) {
      TransferTable t;
      t.model = tj.at("model").as_string();
      const auto& rows = tj.at("rows").as_array();
      if (rows.size() != r.train_names.size()) throw std::runtime_error("a table has the wrong number of rows");
      for (std::size_t tr = 0; tr < rows.size(); ++tr) {
        const auto& cells = rows[tr].at("cells").as_array();
        if (cells.size() != r.eval_names.size()) throw std::runtime_error("a row has the wrong number of cells");
        for (std::size_t e = 0; e < cells.size(); ++e) {
          TransferEntry x;
          x.train = tr;
          x.eval = e;
          x.same_zoo = cells[e].at("same_zoo").as_bool();
          x.unseen_architecture = cells[e].at("unseen_architecture").as_bool();
          for (const auto& s : cells[e].at("seeds").as_array())
            x.seeds.push_back({s.at("seed").as_int(), Evaluation::from_json(s.at("evaluation"), what)});
          t.entries.push_back(std::move(x));
        }
      }
      r.tables.push_back(std::move(t));
    }
  } catch (const DataError&) {
    throw;
  } catch (const std::exception& e) {
    throw DataError(what + ": not a transfer result of this sne (" + e.what() + ")");
  }
  return r;
}

std::string TransferResult::markdown() const {
  std::ostringstream md;
  md << "Kendall tau on the '" << split << "' split of each evaluation zoo (columns) of a model trained on each "
     << "training zoo (rows); property " << property << "; "
     << (seeds.size() > 1 ? "mean ± standard deviation over " + std::to_string(seeds.size()) + " seeds" : "one seed")
     << ". † marks an architecture the model did not see in training.\n";
  const auto fixed = [](double v) { return format_spread({v, 0, std::isfinite(v) ? 1 : 0}, 3); };
  for (const auto& t : tables) {
    md << "\n**" << t.model << "**\n\n| trained on \\ evaluated on |";
    for (const auto& n : eval_names) md << " " << n << " |";
    md << " average | average, other zoos |\n|---|";
    for (std::size_t k = 0; k < eval_names.size() + 2; ++k) md << "---|";
    md << "\n";
    for (std::size_t tr = 0; tr < train_names.size(); ++tr) {
      md << "| " << train_names[tr] << " |";
      for (std::size_t e = 0; e < eval_names.size(); ++e) {
        const auto& x = t.at(tr, e, eval_names.size());
        md << " " << (x.applicable() ? format_spread(x.tau(), 3) + (x.unseen_architecture ? " †" : "") : "n/a") << " |";
      }
      md << " " << fixed(row_average(t, tr, false)) << " | " << fixed(row_average(t, tr, true)) << " |\n";
    }
    md << "\nAverage of all cells " << fixed(table_average(t, false)) << "; of the cells off the diagonal (a zoo "
       << "not trained on) " << fixed(table_average(t, true)) << ".\n";
  }
  return md.str();
}

}  // namespace sne::study
