#pragma once
// Who this process is in a data-parallel launch, read from the launcher's environment: torchrun's (RANK,
// WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT) or, inside an srun job step, SLURM's
// (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NNODES, the first host of SLURM_STEP_NODELIST). No variables:
// one process. No torch here: this is plain parsing, tested on its own.
#include <functional>
#include <string>

namespace sne::distributed {

struct Launch {
  int rank = 0, world = 1, local_rank = 0;
  int local_world = 1;  ///< processes on this host (they share its cores)
  std::string master_addr = "127.0.0.1";  ///< where rank 0 serves the c10d store
  int master_port = 29500;
  bool single_node = true;  ///< every rank on this host: Gloo binds the loopback address
  std::string source = "none";  ///< "torchrun" | "slurm" | "none"
  /// torchrun's agent already serves the store at MASTER_ADDR:MASTER_PORT (TORCHELASTIC_USE_AGENT_STORE): every
  /// rank connects to it as a client, under the prefix of this restart attempt.
  bool agent_store = false;
  int restart_attempt = 0;
  bool distributed() const { return world > 1; }
};

/// Reads the launch from `env` (getenv by default). UsageError naming the variable for a value that is not a
/// number or is out of range (a rank outside [0, world), a port outside [1, 65535]).
Launch detect_launch(const std::function<const char*(const char*)>& env = nullptr);

/// The first host of a SLURM node list: "gpu[03-05,9],cpu1" -> "gpu03". UsageError for an empty list.
std::string first_host(const std::string& nodelist);

/// "i/n" (0 <= i < n) as {i, n}; UsageError naming `what` otherwise.
std::pair<int, int> parse_shard(const std::string& text, const std::string& what);

}  // namespace sne::distributed
