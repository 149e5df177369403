#include "signals.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common.h"
#include "train/checkpoint.h"
#include "zoo/zoo_file.h"

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

namespace {
int g_hdf5_crash_exit = 3;

void on_hdf5_crash(int sig) {
  const auto put = [](const char* x) { (void)!::write(2, x, std::strlen(x)); };
  const char* signal_name = sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGFPE ? "SIGFPE" : "SIGILL";
  if (const char* checkpoint = train::checkpoint_file_being_read(); checkpoint[0]) {
    put("sne: error: ");
    put(checkpoint);
    put(": LibTorch's reader crashed on this file (");
    put(signal_name);
    put("): it is damaged in a way its manifest.json entry does not show (was the manifest rewritten?).\n");
    ::_exit(kCheckpoint);
  }
  if (!zoo::hdf5_busy()) return;  // not inside HDF5: SA_RESETHAND leaves the default action (a core dump)
  const char* where = zoo::hdf5_current_file();
  put("sne: error: ");
  put(where[0] ? where : "an HDF5 file");
  put(": the HDF5 library crashed reading this file (");
  put(sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGFPE ? "SIGFPE" : "SIGILL");
  put("): it is damaged in a way HDF5 1.10 does not detect. Regenerate or re-download it.\n");
  ::_exit(g_hdf5_crash_exit);
}
}  // namespace

void install_hdf5_crash_guard(int exit_code) {
  zoo::hdf5_no_exit_cleanup();
  g_hdf5_crash_exit = exit_code;
  static std::vector<char> stack(std::max<std::size_t>(SIGSTKSZ, 64 * 1024));  // also on a stack overflow
  stack_t ss{};
  ss.ss_sp = stack.data();
  ss.ss_size = stack.size();
  sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_hdf5_crash;
  sa.sa_flags = SA_RESETHAND | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) sigaction(sig, &sa, nullptr);
}

namespace {
std::string format_seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", s);
  return text;
}
}  // namespace

void start_hdf5_watchdog(double seconds, int exit_code) {
  if (!(seconds > 0)) return;
  std::thread([seconds, exit_code] {
    const auto poll = std::chrono::duration<double>(std::min(1.0, seconds / 4));
    for (;;) {
      std::this_thread::sleep_for(poll);
      if (zoo::hdf5_call_seconds() <= seconds) continue;
      const char* where = zoo::hdf5_last_file();
      const std::string text = std::string("sne: error: ") + (where[0] ? where : "an HDF5 file") +
                               ": the HDF5 library has not returned for " + format_seconds(seconds) + " s reading or writing this file: it is damaged in a way HDF5 1.10 loops on (or the "
                               "storage stopped answering; SNE_HDF5_TIMEOUT_SECONDS sets the limit, 0 turns it off)\n";
      (void)!::write(2, text.data(), text.size());
      ::_exit(exit_code);  // the looping thread holds the HDF5 lock: nothing can be closed cleanly
    }
  }).detach();
}

}  // namespace sne::app
