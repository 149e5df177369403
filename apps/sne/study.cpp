#include "study.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "commands.h"
#include "config/config.h"
#include "core/error.h"
#include "core/strings.h"

namespace sne::app {

std::vector<std::string> parse_models(const std::string& text) {
  const auto models = split_list(text);
  const auto& known = config::model_names();
  if (models.empty()) throw UsageError("--models: expected a comma-separated list of " + join(known));
  if (const std::string d = first_duplicate(models); !d.empty())
    throw UsageError("--models: '" + d + "' is listed twice in '" + text + "'");
  for (const auto& m : models)
    if (std::find(known.begin(), known.end(), m) == known.end()) {
      const std::string near = did_you_mean(m, known);
      throw UsageError("--models: unknown model '" + m + "'" + (near.empty() ? "" : " (did you mean '" + near + "'?)") +
                       "; expected one of " + join(known));
    }
  return models;
}

study::ConfigFactory config_factory(const CommonOptions& o) {
  return [o](const std::vector<std::string>& overlays, const std::vector<std::string>& overrides) {
    CommonOptions r = o;
    r.config_files.insert(r.config_files.end(), overlays.begin(), overlays.end());
    r.sets.insert(r.sets.end(), overrides.begin(), overrides.end());  // the study's own settings win
    for (const auto& kv : overrides)
      if (kv.rfind("run.seed=", 0) == 0) r.seed.clear();  // --seed is the first of --seeds
    return resolve_config(r);
  };
}

study::Hooks study_hooks(const Context& ctx) {
  study::Hooks h;
  h.train = [ctx](const config::Config& cfg, const std::string& dir, bool resume) {
    return run_training(cfg, dir, resume, ctx);
  };
  h.info = [](const std::string& line) { spdlog::info("{}", line); };
  return h;
}

}  // namespace sne::app
