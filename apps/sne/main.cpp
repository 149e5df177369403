// sne: learn from the weights of trained networks. This file is usage text plus dispatch; the work lives in lib/.
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <exception>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/strings.h"
#include "core/version.h"
#include "runtime/context.h"
#include "signals.h"
#include "zoo/zoo_file.h"

namespace {

int exit_code(sne::ErrorKind kind) {
  using sne::ErrorKind;
  switch (kind) {
    case ErrorKind::usage:
    case ErrorKind::config: return sne::app::kUsage;
    case ErrorKind::data: return sne::app::kData;
    case ErrorKind::checkpoint: return sne::app::kCheckpoint;
    case ErrorKind::io: return sne::app::kIo;
    case ErrorKind::distributed: return sne::app::kDistributed;
    case ErrorKind::internal: break;
  }
  return sne::app::kInternal;
}

}  // namespace

int main(int argc, char** argv) {
#if defined(__GLIBC__)
  // LibTorch allocates and frees CPU tensors of a few MiB on every step. With glibc's default, each one can be a
  // fresh mmap whose pages the kernel zeroes again on first touch. Serve blocks up to 32 MiB (glibc's maximum)
  // from the heap and keep freed memory for reuse instead (benchmarks/bench_cnn_generate --glibc-default).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
  sne::app::install_hdf5_crash_guard(sne::app::kData);
  {
    double hdf5_timeout = 300;  // seconds one HDF5 call may run; SNE_HDF5_TIMEOUT_SECONDS, 0 = no watchdog
    if (const char* t = std::getenv("SNE_HDF5_TIMEOUT_SECONDS")) hdf5_timeout = std::atof(t);
    sne::app::start_hdf5_watchdog(hdf5_timeout, sne::app::kData);
  }
  // A peer of a data-parallel run that died closes its socket; writing to it must be an error Gloo reports
  // (exit 6 naming the rank), not SIGPIPE killing this rank too (seen under load in test_distributed).
  std::signal(SIGPIPE, SIG_IGN);  // a file HDF5 crashes on is named, not a bare SIGSEGV
  CLI::App app{
      "sne: a Set-based Neural network Encoder (Andreis et al., NeurIPS 2024) that reads the weights of trained\n"
      "networks and predicts their properties. Model zoos are HDF5 files (docs/zoo-format.md).\n\n"
      "Exit codes: 0 ok, 1 internal error, 2 usage or config error, 3 data error, 4 checkpoint error,\n"
      "5 cannot write output, 6 another process of a data-parallel run failed, 130/143 interrupted (after saving).",
      "sne"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("sne ") + sne::kVersion + " (LibTorch " + sne::torch_version() + ")");
  sne::app::add_run_command(app);
  sne::app::add_train_commands(app);
  sne::app::add_compare_command(app);
  sne::app::add_transfer_command(app);
  sne::app::add_ablate_command(app);
  sne::app::add_report_command(app);
  sne::app::add_config_commands(app);
  sne::app::add_zoo_commands(app);
  std::vector<std::string> command_names;
  for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; })) command_names.push_back(sub->get_name());
  bool known_command = argc < 2 || argv[1][0] == '-';
  for (const auto& name : command_names) known_command = known_command || name == argv[1];
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (known_command) {
      std::fprintf(stderr, "sne: error: %s\n", e.what());
    } else {
      const std::string hint = sne::did_you_mean(argv[1], command_names);
      std::fprintf(stderr, "sne: error: unknown command '%s'%s (commands: %s)\n", argv[1],
                   hint.empty() ? "" : (" (did you mean '" + hint + "'?)").c_str(), sne::join(command_names).c_str());
    }
    std::fprintf(stderr, "Run with --help for more information.\n");
    return sne::app::kUsage;
  } catch (const sne::app::Interrupted& e) {
    return 128 + e.signal;
  } catch (const sne::Error& e) {
    std::fprintf(stderr, "sne: error: %s\n", e.what());
    return exit_code(e.kind());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sne: internal error: %s\n", e.what());
    return sne::app::kInternal;
  }
  return sne::app::kOk;
}
