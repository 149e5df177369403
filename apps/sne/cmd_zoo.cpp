// sne zoo info | validate | show
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <memory>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/strings.h"
#include "progress.h"
#include "zoo/zoo_check.h"
#include "zoo/zoo_file.h"

namespace sne::app {
namespace {

struct ZooArgs {
  std::string zoo;
  bool json = false;
  int64_t index = 0;
  double memory_budget_mb = 256;
  CommonOptions common;
};

void info(const ZooArgs& a) {
  start(resolve_config(a.common));
  auto zoo = zoo::ZooFile::open(a.zoo);
  const auto summary = zoo::summarize(*zoo);
  if (a.json) std::printf("%s\n", zoo::to_json(summary).dump(2).c_str());
  else std::fputs(zoo::to_text(summary).c_str(), stdout);
}

void validate(const ZooArgs& a) {
  start(resolve_config(a.common));
  auto zoo = zoo::ZooFile::open(a.zoo);
  Progress progress("validate", zoo->num_networks(), "networks");
  const auto report = zoo::check_zoo(zoo, config::budget_bytes(a.memory_budget_mb),
                                     [&](int64_t done, int64_t) { progress.update(done); });
  if (report.networks_scanned > 0) progress.finish();
  if (!report.ok()) {
    for (const auto& p : report.problems) std::fprintf(stderr, "sne: invalid: %s\n", p.c_str());
    throw DataError(a.zoo + ": " + std::to_string(report.problems.size()) + " problem(s) found");
  }
  std::printf("%s: valid (%lld networks, %zu architectures, weights all finite)\n", a.zoo.c_str(),
              static_cast<long long>(zoo->num_networks()), zoo->architectures().size());
}

void show(const ZooArgs& a) {
  start(resolve_config(a.common));
  auto zoo = zoo::ZooFile::open(a.zoo);
  const auto params = zoo->network_params(a.index);
  const auto i = static_cast<std::size_t>(a.index);
  const auto& spec = zoo->architectures()[static_cast<std::size_t>(zoo->network_architecture()[i])];
  Json j = Json::object();
  j.set("index", static_cast<long long>(a.index));
  j.set("architecture", spec.name);
  j.set("row", static_cast<long long>(zoo->network_row()[i]));
  Json p = Json::array();
  for (float v : params) p.push_back(Json(static_cast<double>(v)));
  j.set("params", p);
  Json props = Json::object();
  for (const auto& name : zoo->property_names()) {
    const double v = zoo->property_range({name}, a.index, 1)[0][0];
    props.set(name, std::isnan(v) ? Json() : Json(v));
  }
  j.set("properties", props);
  Json meta = Json::object();
  for (const auto& name : zoo->metadata_names()) {
    const auto col = zoo->metadata(name);
    if (col.is_string) meta.set(name, col.strings[i]);
    else meta.set(name, std::isnan(col.numbers[i]) ? Json() : Json(col.numbers[i]));
  }
  j.set("metadata", meta);
  Json splits = Json::array();
  for (const auto& name : zoo->split_names()) {
    const auto ids = zoo->split(name);
    if (std::binary_search(ids.begin(), ids.end(), a.index)) splits.push_back(name);
  }
  j.set("splits", splits);
  if (a.json) {
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("network %lld of %s: architecture %s, row %lld\n", static_cast<long long>(a.index), a.zoo.c_str(),
              spec.name.c_str(), static_cast<long long>(zoo->network_row()[i]));
  std::printf("properties: %s\nmetadata: %s\nsplits: %s\n", props.dump().c_str(), meta.dump().c_str(),
              splits.dump().c_str());
  for (const auto& l : spec.layers)
    for (const auto& t : l.tensors) {
      std::string shape;
      for (auto d : t.shape) shape += (shape.empty() ? "" : "x") + std::to_string(d);
      std::printf("  %-24s %-12s", t.name.c_str(), shape.c_str());
      for (int64_t k = 0; k < std::min<int64_t>(t.numel(), 6); ++k)
        std::printf(" %s", format_number(params[static_cast<std::size_t>(t.offset + k)]).c_str());
      std::printf("%s\n", t.numel() > 6 ? " ..." : "");
    }
}

}  // namespace

void add_zoo_commands(CLI::App& app) {
  auto* zoo = app.add_subcommand("zoo", "inspect, check and build model-zoo files");
  zoo->require_subcommand(1);

  auto a = std::make_shared<ZooArgs>();
  auto* info_cmd = zoo->add_subcommand("info", "architectures, network counts, property statistics, splits");
  info_cmd->add_option("zoo", a->zoo, "zoo file (HDF5)")->required();
  info_cmd->add_flag("--json", a->json, "print JSON instead of text");
  add_common_options(*info_cmd, a->common, false);
  info_cmd->callback([a] { info(*a); });

  auto* validate_cmd = zoo->add_subcommand(
      "validate", "check schema, shapes, finite weights and split consistency; lists the offending networks");
  validate_cmd->add_option("zoo", a->zoo, "zoo file (HDF5)")->required();
  validate_cmd->add_option("--memory-budget-mb", a->memory_budget_mb, "bound on buffered weights, MiB")
      ->check(CLI::PositiveNumber);
  add_common_options(*validate_cmd, a->common, false);
  validate_cmd->callback([a] { validate(*a); });

  auto* show_cmd = zoo->add_subcommand("show", "print one network: weights per tensor, properties, metadata");
  show_cmd->add_option("zoo", a->zoo, "zoo file (HDF5)")->required();
  show_cmd->add_option("index", a->index, "network index")->required();
  show_cmd->add_flag("--json", a->json, "print JSON (all weights) instead of text");
  add_common_options(*show_cmd, a->common, false);
  show_cmd->callback([a] { show(*a); });

  add_generate_commands(*zoo);
}

}  // namespace sne::app
