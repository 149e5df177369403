#include "progress.h"

#include <unistd.h>

#include <cstdio>

namespace sne::app {

std::string duration_text(double s) {
  char buf[32];
  const long t = static_cast<long>(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  return buf;
}

Progress::Progress(std::string label, int64_t total, std::string unit, double log_interval_s)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(isatty(STDERR_FILENO) == 1),
      interval_(log_interval_s), start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

void Progress::update(int64_t done, const std::string& extra) {
  done_ = done;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since < (tty_ ? 0.2 : interval_)) return;
  last_draw_ = now;
  draw(false, extra);
}

void Progress::finish(const std::string& extra) { draw(true, extra); }

void Progress::draw(bool final, const std::string& extra) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  char line[256];
  const double pct = total_ > 0 ? 100.0 * static_cast<double>(done_) / static_cast<double>(total_) : 100.0;
  std::string eta = final ? "took " + duration_text(elapsed)
                          : (rate > 0 && total_ > done_ ? "ETA " + duration_text(static_cast<double>(total_ - done_) / rate)
                                                        : "ETA ?");
  std::snprintf(line, sizeof line, "%s %lld/%lld %s (%.0f%%) %.1f %s/s %s", label_.c_str(),
                static_cast<long long>(done_), static_cast<long long>(total_), unit_.c_str(), pct, rate,
                unit_.c_str(), eta.c_str());
  std::string text = line;
  if (!extra.empty()) text += "  " + extra;
  if (tty_) std::fprintf(stderr, "\r\033[K%s%s", text.c_str(), final ? "\n" : "");
  else std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

}  // namespace sne::app
