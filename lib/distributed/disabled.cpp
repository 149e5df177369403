// The build without data-parallel support (-DSNE_DISTRIBUTED=OFF): a multi-process launch is refused clearly.
#include "core/error.h"
#include "distributed/process_group.h"

namespace sne::distributed {

bool available() { return false; }

std::unique_ptr<train::Collective> connect(const Launch& launch, const ConnectOptions&) {
  throw UsageError("this sne was built without data-parallel support (CMake option SNE_DISTRIBUTED=OFF), but the "
                   "environment asks for " + std::to_string(launch.world) + " processes (" + launch.source +
                   " variables); rebuild with libgloo-dev installed, or run one process");
}

}  // namespace sne::distributed
