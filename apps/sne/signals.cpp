#include "signals.h"

#include <csignal>
#include <cstdio>

namespace sne::app {
namespace {
// Signal handlers can only reach process-wide state; this flag is the one place it lives.
std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};

extern "C" void on_stop_signal(int sig) {
  if (g_stop.exchange(true)) {  // second signal: stop now
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
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
