#pragma once
// SIGINT/SIGTERM ask long commands to stop cleanly: the library polls the flag, saves what is finished and
// returns; the command then throws Interrupted and main exits with 128 + signal. A second signal kills at once,
// except a SIGTERM repeated within 10 s (SLURM may deliver one preemption twice).
#include <atomic>
#include <string>

namespace sne::app {

/// Installs the handlers (idempotent) and returns the flag they set.
const std::atomic<bool>* install_stop_handlers();
/// The signal that set the flag (0 when none).
int stop_signal();

/// Thrown by a command that stopped early because of a signal, after saving.
struct Interrupted {
  int signal;
};

/// HDF5 1.10 can crash on a damaged file it does not check. After this call a SIGSEGV, SIGBUS, SIGFPE or SIGILL
/// raised while a thread is inside HDF5 prints "sne: error: FILE: the HDF5 library crashed reading this file ..."
/// and exits with `exit_code`; one raised elsewhere keeps its default action (a core dump: a defect of sne).
/// Call it first in main: it also turns off HDF5's clean-up at exit (zoo_file.h).
void install_hdf5_crash_guard(int exit_code);

/// HDF5 1.10 also loops for ever on some damaged files. A thread started here ends the process with
/// "sne: error: FILE: the HDF5 library has not returned for N s ..." and `exit_code` when one HDF5 call runs for
/// more than `seconds` (a legitimate call reads or writes one bounded batch). `seconds` <= 0: no watchdog.
void start_hdf5_watchdog(double seconds, int exit_code);

/// Says what an interrupted zoo generation saved and how to continue, then throws Interrupted.
[[noreturn]] void stop_generation(long long saved, long long total, const std::string& path,
                                  const std::string& unit = "INRs");

}  // namespace sne::app
