#pragma once
// Pieces every `sne` subcommand shares: the common flags, config resolution, exit codes.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "config/config.h"
#include "runtime/context.h"

namespace sne::app {

/// Exit codes (documented in README.md).
enum ExitCode : int {
  kOk = 0,
  kInternal = 1,
  kUsage = 2,     // bad command line or configuration
  kData = 3,      // unreadable / invalid zoo or dataset
  kCheckpoint = 4,
  kIo = 5,        // cannot write an output
  kDistributed = 6,  // another rank of a data-parallel run failed, hung or could not be reached
};

/// --config files, --set overrides and the shorthand flags of every command that computes.
struct CommonOptions {
  std::vector<std::string> config_files;
  std::vector<std::string> sets;
  std::string threads, seed, device, log_level;  // empty = not given
  bool saved_config = false;  ///< the last config file is one sne wrote (a run directory's config.yaml)
};

/// Adds --set, --threads, --seed, --device, --log-level (and CONFIG files when `with_config_files`).
void add_common_options(CLI::App& cmd, CommonOptions& o, bool with_config_files);

/// defaults < embedded default (when no file is given and `use_embedded`) < files < --set < flags.
config::Config resolve_config(const CommonOptions& o, bool use_embedded_default = false);

/// UsageError when a launcher (torchrun, srun) started this command in several processes: only `sne train` trains
/// data-parallel and `sne encode` shards; the others would each do the whole job and write the same files.
void require_one_process(const std::string& command);

/// Applies the log level and builds the execution context.
Context start(const config::Config& c);

}  // namespace sne::app
