#include "common.h"

#include "core/error.h"
#include "distributed/launch.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace sne::app {

void add_common_options(CLI::App& cmd, CommonOptions& o, bool with_config_files) {
  if (with_config_files)
    cmd.add_option("config", o.config_files, "YAML config files, applied left to right over the defaults")
        ->check(CLI::ExistingFile);
  cmd.add_option("--set", o.sets, "override one setting, KEY=VALUE (repeatable; after the config files)");
  cmd.add_option("--threads", o.threads, "intra-op CPU threads (0 = all cores) [run.threads]");
  cmd.add_option("--seed", o.seed, "master random seed [run.seed]");
  cmd.add_option("--device", o.device, "cpu, cuda or auto [run.device]");
  cmd.add_option("--log-level", o.log_level, "trace, debug, info, warn, error or off [run.log_level]");
}

config::Config resolve_config(const CommonOptions& o, bool use_embedded_default) {
  std::vector<config::Source> sources;
  if (o.config_files.empty() && use_embedded_default)
    sources.push_back({"<embedded default>", config::embedded_default_yaml()});
  for (const auto& f : o.config_files) sources.push_back(config::read_source(f));
  if (o.saved_config) sources.back().saved = true;
  std::vector<std::string> overrides = o.sets;
  if (!o.threads.empty()) overrides.push_back("run.threads=" + o.threads);
  if (!o.seed.empty()) overrides.push_back("run.seed=" + o.seed);
  if (!o.device.empty()) overrides.push_back("run.device=" + o.device);
  if (!o.log_level.empty()) overrides.push_back("run.log_level=" + o.log_level);
  return config::resolve(sources, overrides);
}

void require_one_process(const std::string& command) {
  const distributed::Launch l = distributed::detect_launch();
  if (l.distributed())
    throw UsageError("sne " + command + " runs as one process, but the " + l.source + " variables start " +
                     std::to_string(l.world) + " of it (rank " + std::to_string(l.rank) +
                     "); train data-parallel with sne train, shard encoding with sne encode --shard");
}

Context start(const config::Config& c) {
  // Logs and progress go to stderr; stdout carries only results (JSON, tables) for pipes and scripts.
  if (!spdlog::get("sne")) spdlog::set_default_logger(spdlog::stderr_color_mt("sne"));
  spdlog::set_level(spdlog::level::from_str(c.run.log_level));
  spdlog::set_pattern("[%H:%M:%S] %^%l%$: %v");
  Context ctx = make_context(c.run.device, c.run.threads, c.run.seed);
  spdlog::debug("runtime: {}", describe_runtime(ctx));
  return ctx;
}

}  // namespace sne::app
