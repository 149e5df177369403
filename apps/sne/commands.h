#pragma once
// Each file cmd_*.cpp adds one group of subcommands; main.cpp only registers them and maps errors to exit codes.
#include <CLI/CLI.hpp>

namespace sne::app {
void add_run_command(CLI::App& app);
void add_train_commands(CLI::App& app);
void add_config_commands(CLI::App& app);
void add_zoo_commands(CLI::App& app);
/// `zoo generate ...`, under the `zoo` subcommand.
void add_generate_commands(CLI::App& zoo);
}  // namespace sne::app
