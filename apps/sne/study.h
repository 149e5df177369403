#pragma once
// What the study commands (`sne run`, `compare`, `ablate`, `transfer`) hand the library (lib/study): the list
// options, the config of each run from the command's own config files and flags, and training with progress.
#include <string>
#include <vector>

#include "common.h"
#include "study/study.h"

namespace sne::app {

/// The models of a --models option; UsageError naming an unknown one (with a suggestion).
std::vector<std::string> parse_models(const std::string& text);
/// A study's run configs: the command's config files, then a run's overlays, the command's --set, then the
/// run's overrides (model=, zoo.path=, run.seed=: the study's own), then the command's flags.
study::ConfigFactory config_factory(const CommonOptions& o);
/// Training with the progress bar and Ctrl-C handling of `sne train`; progress lines logged.
study::Hooks study_hooks(const Context& ctx);

}  // namespace sne::app
