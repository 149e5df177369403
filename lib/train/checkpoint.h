#pragma once
// Checkpoints: a directory per checkpoint (model.pt, optimizer.pt, state.json, config.yaml, manifest.json), written
// under a temporary name and renamed into place, so a crash never leaves a half-written checkpoint under a real
// name. manifest.json holds each file's size and CRC-32; every reader checks them before using a byte.
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <string>

#include "core/json.h"

namespace sne::train {

inline constexpr int64_t kCheckpointFormat = 2;  ///< 2: with manifest.json; 1 (read, not checked): without

/// Writes `dir` atomically (replacing an older one). `state` must hold what resuming needs.
void save_checkpoint(const std::string& dir, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     const Json& state, const std::string& config_yaml);

struct LoadedCheckpoint {
  Json state;
  std::string config_yaml;
};

/// Checks every file against manifest.json, then reads the state and config (no tensors). Throws
/// CheckpointError naming the file (and the member) that is missing, damaged or unreadable.
LoadedCheckpoint read_checkpoint(const std::string& dir);
/// Loads the model (and optimizer, when given) tensors. The model must have the checkpoint's architecture
/// settings; a mismatch or a corrupt file throws CheckpointError naming the file.
void load_weights(const std::string& dir, torch::nn::Module& model, torch::optim::Optimizer* optimizer);

/// The file LibTorch's reader is reading now inside load_weights ("" when none), for a crash handler: LibTorch
/// 1.13's TorchScript reader can crash on a damaged archive whose manifest entry was rewritten to match
/// (apps/sne/signals.cpp names the file and exits 4). Async-signal-safe.
const char* checkpoint_file_being_read();

}  // namespace sne::train
