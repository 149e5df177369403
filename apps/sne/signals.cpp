#include "signals.h"

#include <time.h>

#include <csignal>
#include <cstdio>

namespace sne::app {
namespace {
// Signal handlers can only reach process-wide state; this flag is the one place it lives.
std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};

std::atomic<long long> g_first_ns{0};

long long monotonic_ns() {  // clock_gettime is async-signal-safe
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<long long>(t.tv_sec) * 1000000000LL + t.tv_nsec;
}

extern "C" void on_stop_signal(int sig) {
  if (g_stop.exchange(true)) {
    // A second SIGTERM within 10 s is the same request: SLURM signals both srun and its tasks, so one
    // preemption or scancel can arrive twice. Any other second signal (Ctrl-C again) stops at once.
    if (sig == SIGTERM && g_signal.load() == SIGTERM && monotonic_ns() - g_first_ns.load() < 10000000000LL) return;
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_first_ns = monotonic_ns();
  g_signal = sig;
}
}  // namespace

const std::atomic<bool>* install_stop_handlers() {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  return &g_stop;
}

int stop_signal() { return g_signal.load(); }

void stop_generation(long long saved, long long total, const std::string& path, const std::string& unit) {
  std::fprintf(stderr, "sne: interrupted: %lld of %lld %s are saved in %s; run the same command to continue\n",
               saved, total, unit.c_str(), path.c_str());
  throw Interrupted{stop_signal()};
}

}  // namespace sne::app
