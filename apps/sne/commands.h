#pragma once
// Each file cmd_*.cpp adds one group of subcommands; main.cpp only registers them and maps errors to exit codes.
#include <CLI/CLI.hpp>

#include <string>

#include "config/config.h"
#include "core/json.h"
#include "runtime/context.h"
#include "train/trainer.h"

namespace sne::app {
void add_run_command(CLI::App& app);
void add_train_commands(CLI::App& app);
void add_compare_command(CLI::App& app);
void add_transfer_command(CLI::App& app);
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
/// Metrics of a checkpoint on a zoo split as JSON ("" = the training defaults), with the model and its size.
Json evaluate_checkpoint(const std::string& checkpoint, const std::string& zoo, const std::string& split,
                         int64_t invariance_samples, const Context& ctx);
/// Prints the metrics table of a checkpoint on a zoo split and returns them as JSON ("" = the training defaults).
Json evaluate_and_print(const std::string& checkpoint, const std::string& zoo, const std::string& split,
                        int64_t invariance_samples, const Context& ctx);
}  // namespace sne::app
