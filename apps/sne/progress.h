#pragma once
// A one-line progress display on stderr: done/total, rate, ETA. Redraws in place on a terminal; elsewhere
// (logs of batch jobs) prints a line at most every `log_interval_s` seconds.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace sne::app {

/// "4m05s", or "2h13m" from an hour on.
std::string duration_text(double seconds);

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit, double log_interval_s = 10.0);
  /// Reports `done` units finished; `extra` is appended (e.g. "loss 0.12").
  void update(int64_t done, const std::string& extra = "");
  /// Prints the final line.
  void finish(const std::string& extra = "");

 private:
  void draw(bool final, const std::string& extra);
  std::string label_, unit_;
  int64_t total_, done_ = 0;
  bool tty_;
  double interval_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

/// A Progress made at the first (done, total) report, for library calls that report their total as they go;
/// finish() prints the final line if anything was reported.
class LazyProgress {
 public:
  LazyProgress(std::string label, std::string unit) : label_(std::move(label)), unit_(std::move(unit)) {}
  std::function<void(int64_t, int64_t)> callback() {
    return [this](int64_t done, int64_t total) {
      if (!bar_) bar_ = std::make_unique<Progress>(label_, total, unit_);
      bar_->update(done);
    };
  }
  void finish() {
    if (bar_) bar_->finish();
  }

 private:
  std::string label_, unit_;
  std::unique_ptr<Progress> bar_;
};

}  // namespace sne::app
