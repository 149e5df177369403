#pragma once
// What every study shares: how it makes the config of one of its runs, how it trains one run (the caller's
// hook, so that `sne` can show progress and honour Ctrl-C), the seeds, and mean ± standard deviation.
#include <functional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/json.h"
#include "runtime/context.h"
#include "study/run_dir.h"
#include "train/trainer.h"

namespace sne::study {

/// The config of one run: the study's base config with `overlays` (config files, after the base's) and
/// `overrides` (KEY=VALUE, before the user's own --set and flags, which always win).
using ConfigFactory =
    std::function<config::Config(const std::vector<std::string>& overlays, const std::vector<std::string>& overrides)>;

struct Hooks {
  /// Trains `cfg` in `dir`, resuming when `resume`. Empty: train::train with no progress display.
  std::function<train::TrainReport(const config::Config& cfg, const std::string& dir, bool resume)> train;
  /// One line about what the study does next ("sne on zoo: training in DIR").
  std::function<void(const std::string&)> info;
};

/// A trained run as a study sees it.
struct RunOutcome {
  std::string dir;
  RunStage stage_before = RunStage::fresh;  ///< fresh: trained now; started: resumed; finished: reused
  int64_t epochs = 0, best_epoch = 0;
  double train_seconds = 0;        ///< every epoch of metrics.jsonl, validation included, across resumes
  double networks_per_s = 0;       ///< of the training steps in metrics.jsonl; NaN when it does not say
};

/// Trains, resumes or reuses (run_dir.h's rule) `cfg` in `run`.
RunOutcome train_run(const config::Config& cfg, const RunDir& run, const Context& ctx, const Hooks& hooks);

/// The seeds of --seeds: "N" (one integer) is N seeds counting up from `first`; "a,b,c" is that list.
/// UsageError naming --seeds otherwise.
std::vector<int64_t> parse_seeds(const std::string& text, int64_t first);

/// Mean and sample standard deviation (0 for one value) of the finite values; NaN mean when there are none.
struct Spread {
  double mean = 0, std = 0;
  int count = 0;
};
Spread spread(const std::vector<double>& values);
/// "0.330" or "0.330 ± 0.012" (with `digits` after the point, or significant digits when `digits` < 0).
std::string format_spread(const Spread& s, int digits = 3);

/// A number or null (NaN and infinities are not JSON).
Json finite_or_null(double v);
/// The number of member `key`, NaN when it is missing or null.
double number_or_nan(const Json& j, const char* key);

}  // namespace sne::study
