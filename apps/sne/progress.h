#pragma once
// A one-line progress display on stderr: done/total, rate, ETA. Redraws in place on a terminal; elsewhere
// (logs of batch jobs) prints a line at most every `log_interval_s` seconds.
#include <chrono>
#include <cstdint>
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

}  // namespace sne::app
