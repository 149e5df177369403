// sne zoo generate sine|cnn, and the zoo building `sne run` does through zoo.generator.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <memory>
#include <numeric>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/strings.h"
#include "generators/cnn_zoo.h"
#include "generators/sine_zoo.h"
#include "progress.h"
#include "signals.h"

namespace sne::app {
namespace {

struct GenerateArgs {
  CommonOptions common;
  std::string out;
  std::deque<std::pair<std::string, std::string>> recipe;  // key, value text ("" = not given); stable addresses
};

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}

void build_sine(const config::Config& cfg, const Context& ctx) {
  const auto* stop = install_stop_handlers();
  const auto& r = cfg.generate.sine;
  spdlog::info("generating {} sine INRs into {} (seed {}, {} at once, {})", r.count, cfg.zoo.path, cfg.run.seed,
               r.batch, describe_runtime(ctx));
  Progress progress("sine zoo", r.count, "INRs");
  const auto report = generators::generate_sine_zoo(
      r, cfg.run.seed, cfg.zoo.path, ctx, stop,
      [&](int64_t done, int64_t, int64_t active) { progress.update(done, std::to_string(active) + " training"); },
      r.flush_seconds);
  if (report.trained > 0) progress.finish();
  if (report.already_present > 0)
    spdlog::info("resumed: {} INRs were already in {}", report.already_present, cfg.zoo.path);
  if (report.trained > 0) {
    const auto& l = report.final_losses;
    const auto reached = std::count_if(l.begin(), l.end(), [&](double x) { return x <= r.target_loss; });
    const double mean_steps =
        std::accumulate(report.steps.begin(), report.steps.end(), 0.0) / static_cast<double>(report.steps.size());
    spdlog::info("trained {} INRs in {:.1f} s ({:.1f} INRs/s); final loss median {} p90 {} max {}; "
                 "{:.1f}% reached {} (mean {:.0f} steps)",
                 report.trained, report.seconds, static_cast<double>(report.trained) / report.seconds,
                 format_number(static_cast<float>(quantile(l, 0.5))), format_number(static_cast<float>(quantile(l, 0.9))),
                 format_number(static_cast<float>(quantile(l, 1.0))),
                 100.0 * static_cast<double>(reached) / static_cast<double>(l.size()), format_number(r.target_loss),
                 mean_steps);
  }
  if (report.interrupted) stop_generation(report.already_present + report.trained, r.count, cfg.zoo.path);
  if (report.trained == 0) spdlog::info("{}: complete, reusing it", cfg.zoo.path);
  std::printf("%s: %lld INRs (splits: %lld test, %lld validation, %lld train)\n", cfg.zoo.path.c_str(),
              static_cast<long long>(r.count), static_cast<long long>(report.test_count),
              static_cast<long long>(report.validation_count),
              static_cast<long long>(r.count - report.test_count - report.validation_count));
}

void build_cnn(const config::Config& cfg, const Context& ctx) {
  const auto* stop = install_stop_handlers();
  const auto& r = cfg.generate.cnn;
  spdlog::info("generating {} {} networks on {} into {} ({} epochs, {} at once, seed {}, {})", r.count, r.arch,
               r.dataset, cfg.zoo.path, r.epochs, r.parallel, cfg.run.seed, describe_runtime(ctx));
  std::unique_ptr<Progress> progress;
  const auto report = generators::generate_cnn_zoo(r, cfg.run.seed, cfg.zoo.path, ctx, stop, [&](int64_t done, int64_t total) {
    if (!progress) progress = std::make_unique<Progress>("cnn zoo", total, "network-epochs");
    progress->update(done, "");
  }, [&](double seconds, int64_t steps) {
    spdlog::info("calibration ({} steps): the {} optimisation steps still to run take about {} (without the "
                 "checkpoint evaluations)", generators::kCalibrationSteps, steps, duration_text(seconds));
  });
  if (progress && report.trained > 0) progress->finish();
  if (report.already_present > 0)
    spdlog::info("resumed: {} runs were already in {}", report.already_present, cfg.zoo.path);
  if (report.trained > 0) {
    const auto& a = report.final_test_accuracy;
    spdlog::info("trained {} {} networks ({} parameters) in {:.1f} s; final test accuracy min {:.3f} median {:.3f} "
                 "max {:.3f}; {} diverged (kept at their last finite weights)",
                 report.trained, report.architecture, report.num_params, report.seconds, quantile(a, 0.0),
                 quantile(a, 0.5), quantile(a, 1.0), report.diverged);
  }
  if (report.interrupted)
    stop_generation(report.already_present + report.trained, r.count, cfg.zoo.path, "training runs");
  if (report.trained == 0) spdlog::info("{}: complete, reusing it", cfg.zoo.path);
  std::printf("%s: %lld %s networks in %lld runs (splits by run: %lld test, %lld validation, %lld train)\n",
              cfg.zoo.path.c_str(), static_cast<long long>(report.networks), report.architecture.c_str(),
              static_cast<long long>(r.count), static_cast<long long>(report.test_runs),
              static_cast<long long>(report.validation_runs), static_cast<long long>(report.train_runs));
}

void add_generator(CLI::App& generate, const std::string& name, const std::string& help) {
  auto a = std::make_shared<GenerateArgs>();
  auto* cmd = generate.add_subcommand(name, help);
  add_common_options(*cmd, a->common, true);
  cmd->add_option("--out,-o", a->out, "output zoo file [zoo.path]");
  // One flag per recipe setting, named after its key, with the setting's help and default.
  const std::string prefix = "generate." + name + ".";
  for (const auto& s : config::settings()) {
    if (s.key.rfind(prefix, 0) != 0) continue;
    std::string flag = s.key.substr(prefix.size());
    std::replace(flag.begin(), flag.end(), '_', '-');
    a->recipe.emplace_back(s.key, "");
    cmd->add_option("--" + flag, a->recipe.back().second, s.help + " (default " + s.default_text + ")");
  }
  cmd->callback([a, name] {
    require_one_process("zoo generate " + name);
    CommonOptions c = a->common;
    for (const auto& [key, value] : a->recipe)
      if (!value.empty()) c.sets.push_back(key + "=" + value);
    if (!a->out.empty()) c.sets.push_back("zoo.path=" + a->out);
    const config::Config cfg = resolve_config(c);
    install_stop_handlers();  // before the runtime starts: CUDA initialisation takes seconds
    const Context ctx = start(cfg);
    build_zoo(cfg, ctx, name);
  });
}

}  // namespace

void build_zoo(const config::Config& cfg, const Context& ctx, const std::string& generator) {
  if (generator == "sine") return build_sine(cfg, ctx);
  if (generator == "cnn") return build_cnn(cfg, ctx);
  throw ConfigError("zoo.generator '" + generator + "' is not a generator (sine, cnn)");
}

void add_generate_commands(CLI::App& zoo) {
  auto* generate = zoo.add_subcommand("generate", "build a model zoo by training networks");
  generate->require_subcommand(1);
  add_generator(*generate, "sine",
                "SIRENs fit to sin(b*x), b ~ U(freq_min, freq_max) (DWSNets recipe). Rerunning the same command "
                "after an interruption continues where it stopped.");
  add_generator(*generate, "cnn",
                "image classifiers (arch1, arch2, vit) with per-network sampled hyper-parameters (Unterthiner et al. "
                "2020 style), stored at several epochs. Rerunning the same command after an interruption continues "
                "where it stopped.");
}

}  // namespace sne::app
