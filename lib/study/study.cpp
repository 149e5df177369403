#include "study/study.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "core/strings.h"
#include "zoo/zoo_file.h"

namespace sne::study {

RunOutcome train_run(const config::Config& cfg, const RunDir& run, const Context& ctx, const Hooks& hooks) {
  RunOutcome out;
  out.dir = run.root().string();
  out.stage_before = run.stage(cfg);
  out.networks_per_s = NAN;
  const auto say = [&](const std::string& s) {
    if (hooks.info) hooks.info(s);
  };
  if (out.stage_before != RunStage::fresh) {  // resumed or reused only on the zoo it was trained on
    const auto z = zoo::ZooFile::open(cfg.zoo.path);
    train::require_same_zoo(run.last_state(), *z, cfg.task.property, out.dir, cfg.zoo.path);
  }
  if (out.stage_before == RunStage::finished) {
    say(out.dir + ": trained earlier, reusing it");
  } else {
    const bool resume = out.stage_before == RunStage::started;
    if (!resume) {  // a run that stopped before its first checkpoint starts again
      std::error_code ec;
      std::filesystem::create_directories(run.root(), ec);
    }
    say(out.dir + (resume ? ": resuming" : ": training"));
    if (hooks.train) {
      hooks.train(cfg, out.dir, resume);
    } else {
      train::TrainRequest rq;
      rq.config = cfg;
      rq.run_dir = out.dir;
      rq.resume = resume;
      train::train(rq, ctx);
    }
  }
  double networks = 0, step_seconds = 0;
  for (const auto& e : run.epochs()) {
    out.train_seconds += std::isfinite(e.seconds) ? e.seconds : 0.0;
    networks += e.networks_trained;  // NaN (an older log) makes the rate NaN: unknown
    step_seconds += e.step_seconds;
    out.epochs = std::max(out.epochs, e.epoch);
    if (e.best) out.best_epoch = e.epoch;
  }
  if (step_seconds > 0) out.networks_per_s = networks / step_seconds;
  return out;
}

std::vector<int64_t> parse_seeds(const std::string& text, int64_t first) {
  const auto items = split_list(text);
  std::vector<int64_t> out;
  for (const auto& item : items) {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (end == item.c_str() || *end != '\0' || errno != 0 || v < 0)
      throw UsageError("--seeds: expected a count N or a list of seeds a,b,c (non-negative integers), got '" + text + "'");
    out.push_back(v);
  }
  if (out.empty()) throw UsageError("--seeds: expected a count N or a list of seeds a,b,c");
  for (std::size_t i = 0; i < out.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (out[i] == out[j])  // it would be one run counted twice in the mean and standard deviation
        throw UsageError("--seeds: seed " + std::to_string(out[i]) + " is listed twice in '" + text + "'");
  if (items.size() == 1 && text.find(',') == std::string::npos) {  // a count
    const int64_t n = out[0];
    if (n < 1 || n > 1000) throw UsageError("--seeds: a count of seeds must be between 1 and 1000, got " + text);
    out.clear();
    for (int64_t k = 0; k < n; ++k) out.push_back(first + k);
  }
  return out;
}

Spread spread(const std::vector<double>& values) {
  Spread s;
  double sum = 0;
  for (double v : values)
    if (std::isfinite(v)) sum += v, ++s.count;
  if (s.count == 0) return {NAN, NAN, 0};
  s.mean = sum / s.count;
  double ss = 0;
  for (double v : values)
    if (std::isfinite(v)) ss += (v - s.mean) * (v - s.mean);
  s.std = s.count > 1 ? std::sqrt(ss / (s.count - 1)) : 0.0;
  return s;
}

std::string format_spread(const Spread& s, int digits) {
  if (s.count == 0) return "-";
  char a[64], b[64];
  if (digits >= 0) {
    std::snprintf(a, sizeof a, "%.*f", digits, s.mean);
    std::snprintf(b, sizeof b, "%.*f", digits, s.std);
  } else {
    std::snprintf(a, sizeof a, "%.*g", -digits, s.mean);
    std::snprintf(b, sizeof b, "%.*g", std::max(1, -digits - 2), s.std);
  }
  return s.count > 1 ? std::string(a) + " ± " + b : std::string(a);
}

Json finite_or_null(double v) { return std::isfinite(v) ? Json(v) : Json(); }

double number_or_nan(const Json& j, const char* key) {
  const Json* v = j.find(key);
  return v && v->is_number() ? v->as_number() : NAN;
}

}  // namespace sne::study
