// sne zoo generate sine
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <memory>
#include <numeric>

#include "commands.h"
#include "common.h"
#include "core/strings.h"
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

void generate_sine(GenerateArgs& a) {
  CommonOptions c = a.common;
  for (const auto& [key, value] : a.recipe)
    if (!value.empty()) c.sets.push_back(key + "=" + value);
  if (!a.out.empty()) c.sets.push_back("zoo.path=" + a.out);
  const config::Config cfg = resolve_config(c);
  const auto* stop = install_stop_handlers();  // before the runtime starts: CUDA initialisation takes seconds
  const Context ctx = start(cfg);
  const auto& r = cfg.generate.sine;
  spdlog::info("generating {} sine INRs into {} (seed {}, {} at once, {})", r.count, cfg.zoo.path, cfg.run.seed,
               r.batch, describe_runtime(ctx));
  Progress progress("sine zoo", r.count, "INRs");
  const auto report = generators::generate_sine_zoo(
      r, cfg.run.seed, cfg.zoo.path, ctx, stop,
      [&](int64_t done, int64_t, int64_t active) { progress.update(done, std::to_string(active) + " training"); });
  progress.finish();
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
  if (report.interrupted) {
    stop_generation(report.already_present + report.trained, r.count, cfg.zoo.path);
  }
  std::printf("%s: %lld INRs (splits: %lld test, %lld validation, %lld train)\n", cfg.zoo.path.c_str(),
              static_cast<long long>(r.count), static_cast<long long>(report.test_count),
              static_cast<long long>(report.validation_count),
              static_cast<long long>(r.count - report.test_count - report.validation_count));
}

}  // namespace

void add_generate_commands(CLI::App& zoo) {
  auto* generate = zoo.add_subcommand("generate", "build a model zoo by training networks");
  generate->require_subcommand(1);

  auto a = std::make_shared<GenerateArgs>();
  auto* sine = generate->add_subcommand(
      "sine", "SIRENs fit to sin(b*x), b ~ U(freq_min, freq_max) (DWSNets recipe). Rerunning the same command "
              "after an interruption continues where it stopped.");
  add_common_options(*sine, a->common, true);
  sine->add_option("--out,-o", a->out, "output zoo file [zoo.path]");
  // One flag per recipe setting, named after its key, with the setting's help and default.
  const std::string prefix = "generate.sine.";
  for (const auto& s : config::settings()) {
    if (s.key.rfind(prefix, 0) != 0) continue;
    std::string flag = s.key.substr(prefix.size());
    std::replace(flag.begin(), flag.end(), '_', '-');
    a->recipe.emplace_back(s.key, "");
    sine->add_option("--" + flag, a->recipe.back().second, s.help + " (default " + s.default_text + ")");
  }
  sine->callback([a] { generate_sine(*a); });
}

}  // namespace sne::app
