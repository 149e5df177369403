#pragma once
// Each file cmd_*.cpp adds one group of subcommands; main.cpp only registers them and maps errors to exit codes.
#include <CLI/CLI.hpp>

#include <string>

#include "config/config.h"
#include "runtime/context.h"
#include "study/evaluation.h"
#include "train/trainer.h"

namespace sne::app {
void add_run_command(CLI::App& app);
void add_train_commands(CLI::App& app);
void add_compare_command(CLI::App& app);
void add_transfer_command(CLI::App& app);
void add_ablate_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_config_commands(CLI::App& app);
void add_zoo_commands(CLI::App& app);
/// `zoo generate ...`, under the `zoo` subcommand.
void add_generate_commands(CLI::App& zoo);

/// Builds or completes cfg.zoo.path with `generator` ("sine" | "cnn"), with progress; throws Interrupted after
/// saving what is finished when a signal stops it.
void build_zoo(const config::Config& cfg, const Context& ctx, const std::string& generator);
/// Trains (or resumes) with progress display; throws Interrupted after saving when a signal stops it.
/// `collective`: the processes of a data-parallel `sne train` (null: this process alone).
train::TrainReport run_training(const config::Config& cfg, const std::string& run_dir, bool resume, const Context& ctx,
                                train::Collective* collective = nullptr, int64_t bucket_bytes = int64_t{256} << 10);
/// Prints an evaluation's metrics table (stdout).
void print_evaluation(const study::Evaluation& e);
}  // namespace sne::app
