#pragma once
// The processes of a data-parallel run on torch.distributed (c10d): a TCPStore served by rank 0 and a Gloo
// process group (NCCL is for CUDA builds with NCCL; see README). Every collective is bounded by `timeout`; when
// one fails, the error says which rank stopped answering, from heartbeats each rank keeps in the store.
#include <chrono>
#include <memory>
#include <string>

#include "distributed/launch.h"
#include "train/collective.h"

namespace sne::distributed {

struct ConnectOptions {
  std::string backend = "gloo";
  std::chrono::seconds timeout{300};  ///< connecting, and every collective
};

/// Connects this process to the others of `launch` (every rank calls it). DistributedError naming the store's
/// address when the ranks do not all arrive within the timeout; UsageError for an unknown or unbuilt backend.
std::unique_ptr<train::Collective> connect(const Launch& launch, const ConnectOptions& options);

/// Whether this build has data-parallel support (CMake option SNE_DISTRIBUTED).
bool available();

}  // namespace sne::distributed
