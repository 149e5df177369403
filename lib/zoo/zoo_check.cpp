#include "zoo/zoo_check.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/strings.h"
#include "zoo/zoo_stream.h"

namespace sne::zoo {
namespace {

// "networks 3, 17, 40 and 12 more"
std::string list_networks(const std::vector<int64_t>& ids, std::size_t shown = 10) {
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < ids.size() && i < shown; ++i) parts.push_back(std::to_string(ids[i]));
  std::string s = (ids.size() == 1 ? "network " : "networks ") + join(parts);
  if (ids.size() > shown) s += " and " + std::to_string(ids.size() - shown) + " more";
  return s;
}

// Six significant digits: enough to read, short enough to scan.
std::string short_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

ZooSummary summarize(const ZooFile& zoo) {
  ZooSummary s;
  s.path = zoo.path();
  s.format_version = zoo.format_version();
  s.created_by = zoo.created_by();
  s.provenance = zoo.provenance();
  s.networks = zoo.num_networks();
  std::vector<int64_t> counts(zoo.architectures().size(), 0);
  for (int32_t a : zoo.network_architecture()) ++counts[static_cast<std::size_t>(a)];
  for (std::size_t a = 0; a < zoo.architectures().size(); ++a) {
    const auto& spec = zoo.architectures()[a];
    s.architectures.push_back({spec.name, static_cast<int>(a), counts[a], spec.num_params(),
                               static_cast<int64_t>(spec.layers.size()), static_cast<int64_t>(spec.symmetries.size())});
  }
  for (const auto& name : zoo.property_names()) {
    PropertyStats p;
    p.name = name;
    double sum = 0;
    p.min = INFINITY;
    p.max = -INFINITY;
    for (double v : zoo.property(name)) {
      if (!std::isfinite(v)) continue;
      ++p.known;
      sum += v;
      p.min = std::min(p.min, v);
      p.max = std::max(p.max, v);
    }
    if (p.known) p.mean = sum / static_cast<double>(p.known);
    else p.min = p.max = p.mean = NAN;
    s.properties.push_back(p);
  }
  for (const auto& name : zoo.metadata_names())
    s.metadata.emplace_back(name, zoo.metadata_is_string(name) ? "string" : "number");
  for (const auto& name : zoo.split_names()) s.splits.emplace_back(name, static_cast<int64_t>(zoo.split(name).size()));
  return s;
}

Json to_json(const ZooSummary& s) {
  Json j = Json::object();
  j.set("path", s.path);
  j.set("format_version", static_cast<long long>(s.format_version));
  j.set("created_by", s.created_by);
  j.set("networks", static_cast<long long>(s.networks));
  Json archs = Json::array();
  for (const auto& a : s.architectures) {
    Json aj = Json::object();
    aj.set("name", a.name);
    aj.set("index", a.index);
    aj.set("networks", static_cast<long long>(a.networks));
    aj.set("params", static_cast<long long>(a.params));
    aj.set("layers", static_cast<long long>(a.layers));
    aj.set("symmetries", static_cast<long long>(a.symmetries));
    archs.push_back(aj);
  }
  j.set("architectures", archs);
  Json props = Json::object();
  for (const auto& p : s.properties) {
    Json pj = Json::object();
    pj.set("known", static_cast<long long>(p.known));
    pj.set("min", p.known ? Json(p.min) : Json());
    pj.set("mean", p.known ? Json(p.mean) : Json());
    pj.set("max", p.known ? Json(p.max) : Json());
    props.set(p.name, pj);
  }
  j.set("properties", props);
  Json meta = Json::object();
  for (const auto& [name, type] : s.metadata) meta.set(name, type);
  j.set("metadata", meta);
  Json splits = Json::object();
  for (const auto& [name, n] : s.splits) splits.set(name, static_cast<long long>(n));
  j.set("splits", splits);
  j.set("provenance", s.provenance);
  return j;
}

std::string to_text(const ZooSummary& s) {
  std::ostringstream o;
  o << s.path << ": sne zoo format " << s.format_version;
  if (!s.created_by.empty()) o << ", written by " << s.created_by;
  o << "\n" << s.networks << " networks";
  if (s.networks == 0) o << " (empty zoo)";
  o << "\n\narchitectures:\n";
  for (const auto& a : s.architectures)
    o << "  " << a.name << ": " << a.networks << " networks, " << a.params << " parameters, " << a.layers
      << " layers, " << a.symmetries << " symmetries\n";
  o << "\nproperties:" << (s.properties.empty() ? " none\n" : "\n");
  for (const auto& p : s.properties) {
    o << "  " << p.name << ": ";
    if (p.known == 0) o << "unknown for every network\n";
    else
      o << "min " << short_number(p.min) << ", mean " << short_number(p.mean) << ", max " << short_number(p.max) << " ("
        << p.known << " known)\n";
  }
  o << "\nmetadata:" << (s.metadata.empty() ? " none\n" : "\n");
  for (const auto& [name, type] : s.metadata) o << "  " << name << " (" << type << ")\n";
  o << "\nsplits:" << (s.splits.empty() ? " none\n" : "\n");
  for (const auto& [name, n] : s.splits) o << "  " << name << ": " << n << " networks\n";
  if (!s.provenance.is_null()) o << "\nprovenance: " << s.provenance.dump() << "\n";
  return o.str();
}

CheckReport check_zoo(std::shared_ptr<const ZooFile> zoo, int64_t memory_budget_bytes,
                      const std::function<void(int64_t, int64_t)>& progress) {
  CheckReport r;
  const std::string& path = zoo->path();
  const int64_t n = zoo->num_networks();
  if (n == 0) {
    r.problems.push_back(path + ": the zoo holds no networks");
    return r;
  }

  // The index: every network points at a distinct, existing row; every stored row belongs to a network.
  const auto& archs = zoo->architectures();
  std::vector<std::vector<int64_t>> owner(archs.size());
  for (std::size_t a = 0; a < archs.size(); ++a)
    owner[a].assign(static_cast<std::size_t>(zoo->rows_per_architecture()[a]), -1);
  std::vector<int64_t> bad_row, shared_row;
  for (int64_t i = 0; i < n; ++i) {
    const auto a = static_cast<std::size_t>(zoo->network_architecture()[static_cast<std::size_t>(i)]);
    const int64_t row = zoo->network_row()[static_cast<std::size_t>(i)];
    if (row < 0 || row >= static_cast<int64_t>(owner[a].size())) bad_row.push_back(i);
    else if (owner[a][static_cast<std::size_t>(row)] >= 0) shared_row.push_back(i);
    else owner[a][static_cast<std::size_t>(row)] = i;
  }
  if (!bad_row.empty())
    r.problems.push_back(path + ": /networks/row: " + list_networks(bad_row) + " point past the end of their params");
  if (!shared_row.empty())
    r.problems.push_back(path + ": /networks/row: " + list_networks(shared_row) + " reuse a row of another network");
  for (std::size_t a = 0; a < archs.size(); ++a) {
    const auto unused = std::count(owner[a].begin(), owner[a].end(), -1);
    if (unused > 0 && bad_row.empty() && shared_row.empty())
      r.problems.push_back(path + ": /architectures/" + archs[a].name + "/params: " + std::to_string(unused) +
                           " rows belong to no network");
  }

  // Names follow the format's rule, [A-Za-z0-9_.+-]+ (docs/zoo-format.md): they become file names and keys.
  const auto check_names = [&](const std::string& what, const std::vector<std::string>& names) {
    for (const auto& name : names) {
      const bool ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '+' || c == '-';
      });
      if (!ok)
        r.problems.push_back(path + ": " + what + " name '" + name + "' breaks the format's naming rule "
                             "[A-Za-z0-9_.+-]+");
    }
  };
  std::vector<std::string> arch_names;
  for (const auto& a : archs) arch_names.push_back(a.name);
  check_names("architecture", arch_names);
  check_names("property", zoo->property_names());
  check_names("metadata", zoo->metadata_names());
  check_names("split", zoo->split_names());

  // Metadata: readable as the format's number or variable-length string columns.
  for (const auto& name : zoo->metadata_names()) {
    try {
      (void)zoo->metadata(name);
    } catch (const DataError& e) {
      r.problems.push_back(e.what());
    }
  }

  // A generator's zoo holds every network its recipe promises; fewer means generation stopped part way.
  const Json& prov = zoo->provenance();
  if (prov.is_object()) {
    const Json* kind = prov.find("kind");
    const Json* expected = prov.find("networks_expected");
    const Json* recipe = prov.find("recipe");
    const Json* name = prov.find("name");
    int64_t want = -1;
    if (expected && expected->is_number()) {
      want = expected->as_int();
    } else if (kind && kind->is_string() && kind->as_string() == "generator" && name && name->is_string() &&
               name->as_string() == "sine" && recipe && recipe->is_object()) {  // written before networks_expected
      if (const Json* c = recipe->find("count"); c && c->is_number()) want = c->as_int();
    }
    if (want > n)
      r.problems.push_back(path + ": holds " + std::to_string(n) + " of the " + std::to_string(want) +
                           " networks its provenance promises: generation stopped part way (rerun `sne zoo "
                           "generate` with the same recipe and output to finish it)");
  }

  // Properties: NaN means unknown; infinities are errors.
  for (const auto& name : zoo->property_names()) {
    const auto v = zoo->property(name);
    std::vector<int64_t> inf;
    for (std::size_t i = 0; i < v.size(); ++i)
      if (std::isinf(v[i])) inf.push_back(static_cast<int64_t>(i));
    if (!inf.empty())
      r.problems.push_back(path + ": /networks/properties/" + name + ": infinite value for " + list_networks(inf));
  }

  // Splits.
  std::map<std::string, std::vector<int64_t>> standard;
  for (const auto& name : zoo->split_names()) {
    const auto ids = zoo->split(name);
    std::vector<int64_t> missing;
    bool increasing = true;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= n) missing.push_back(ids[i]);
      if (i > 0 && ids[i] <= ids[i - 1]) increasing = false;
    }
    if (!missing.empty())
      r.problems.push_back(path + ": /splits/" + name + " names " + list_networks(missing) +
                           " that do not exist (the zoo has networks 0.." + std::to_string(n - 1) + ")");
    if (!increasing)
      r.problems.push_back(path + ": /splits/" + name + " is not strictly increasing (duplicates or unsorted)");
    if (name == "train" || name == "validation" || name == "test") standard[name] = ids;
  }
  for (auto a = standard.begin(); a != standard.end(); ++a)
    for (auto b = std::next(a); b != standard.end(); ++b) {
      std::set<int64_t> sa(a->second.begin(), a->second.end());
      std::vector<int64_t> both;
      for (int64_t i : b->second)
        if (sa.count(i)) both.push_back(i);
      if (!both.empty())
        r.problems.push_back(path + ": splits '" + a->first + "' and '" + b->first + "' share " + list_networks(both));
    }

  // Weights: finite everywhere (needs a sound index to stream).
  if (!bad_row.empty() || !shared_row.empty()) return r;
  StreamOptions opt;
  opt.batch_size = 256;
  opt.memory_budget_bytes = memory_budget_bytes;
  ZooStream stream(zoo, opt);
  NetworkBatch b;
  std::vector<int64_t> non_finite;
  std::string first_tensor;
  while (stream.next(b)) {
    for (int64_t i = 0; i < b.size(); ++i) {
      const float* p = b.params_of(i);
      const int64_t m = b.num_params_of(i);
      for (int64_t k = 0; k < m; ++k) {
        if (std::isfinite(p[k])) continue;
        if (non_finite.empty()) {
          const auto& spec = archs[static_cast<std::size_t>(b.arch[static_cast<std::size_t>(i)])];
          for (const auto& l : spec.layers)
            for (const auto& t : l.tensors)
              if (k >= t.offset && k < t.offset + t.numel()) first_tensor = t.name;
        }
        non_finite.push_back(b.index[static_cast<std::size_t>(i)]);
        break;
      }
    }
    r.networks_scanned += b.size();
    if (progress) progress(r.networks_scanned, n);
  }
  if (!non_finite.empty()) {
    std::sort(non_finite.begin(), non_finite.end());
    r.problems.push_back(path + ": NaN/Inf weights in " + list_networks(non_finite) + " (first in tensor '" +
                         first_tensor + "')");
  }
  return r;
}

}  // namespace sne::zoo
