#include "distributed/launch.h"

#include <cerrno>
#include <cstdlib>

#include "core/error.h"

namespace sne::distributed {
namespace {

long to_integer(const char* name, const std::string& value, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno != 0 || v < lo || v > hi)
    throw UsageError(std::string("environment variable ") + name + "='" + value + "': expected an integer in [" +
                     std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

}  // namespace

std::string first_host(const std::string& nodelist) {
  // The first entry ends at the first comma outside brackets; a bracket holds ranges or single numbers.
  std::size_t end = 0;
  int depth = 0;
  for (; end < nodelist.size(); ++end) {
    if (nodelist[end] == '[') ++depth;
    if (nodelist[end] == ']') --depth;
    if (nodelist[end] == ',' && depth == 0) break;
  }
  const std::string entry = nodelist.substr(0, end);
  if (entry.empty()) throw UsageError("SLURM node list '" + nodelist + "': no host in it");
  // Every bracket of the entry holds ranges or numbers ("n[1-4]-gpu[0,2]"): the first host takes the first of each.
  std::string host;
  for (std::size_t at = 0; at < entry.size();) {
    const auto open = entry.find('[', at);
    if (open == std::string::npos) {
      host += entry.substr(at);
      break;
    }
    const auto close = entry.find(']', open);
    if (close == std::string::npos) throw UsageError("SLURM node list '" + nodelist + "': unclosed '['");
    const std::string inside = entry.substr(open + 1, close - open - 1);
    const std::string first = inside.substr(0, inside.find_first_of(",-"));
    if (first.empty()) throw UsageError("SLURM node list '" + nodelist + "': empty range");
    host += entry.substr(at, open - at) + first;
    at = close + 1;
  }
  return host;
}

std::pair<int, int> parse_shard(const std::string& text, const std::string& what) {
  const auto slash = text.find('/');
  const auto digits = [](const std::string& s) {
    return !s.empty() && s.size() <= 7 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  if (slash == std::string::npos || !digits(text.substr(0, slash)) || !digits(text.substr(slash + 1)))
    throw UsageError(what + " '" + text + "': expected I/N with 0 <= I < N, e.g. 0/4");
  const int i = std::stoi(text.substr(0, slash)), n = std::stoi(text.substr(slash + 1));
  if (n < 1 || i >= n) throw UsageError(what + " '" + text + "': expected I/N with 0 <= I < N, e.g. 0/4");
  return {i, n};
}

Launch detect_launch(const std::function<const char*(const char*)>& env_in) {
  const auto env = [&](const char* name) -> std::string {
    const char* v = env_in ? env_in(name) : std::getenv(name);
    return v ? std::string(v) : std::string();
  };
  Launch l;
  constexpr long kMaxWorld = 1 << 20;
  if (!env("WORLD_SIZE").empty() || !env("RANK").empty()) {  // torchrun, or set by hand
    if (env("WORLD_SIZE").empty() || env("RANK").empty())
      throw UsageError("environment: RANK and WORLD_SIZE must be set together (torchrun sets both)");
    l.source = "torchrun";
    l.world = static_cast<int>(to_integer("WORLD_SIZE", env("WORLD_SIZE"), 1, kMaxWorld));
    l.rank = static_cast<int>(to_integer("RANK", env("RANK"), 0, l.world - 1));
    l.local_rank = env("LOCAL_RANK").empty() ? l.rank : static_cast<int>(to_integer("LOCAL_RANK", env("LOCAL_RANK"), 0, kMaxWorld));
    if (!env("MASTER_ADDR").empty()) l.master_addr = env("MASTER_ADDR");
    if (!env("MASTER_PORT").empty()) l.master_port = static_cast<int>(to_integer("MASTER_PORT", env("MASTER_PORT"), 1, 65535));
    l.agent_store = env("TORCHELASTIC_USE_AGENT_STORE") == "True";
    if (!env("TORCHELASTIC_RESTART_COUNT").empty())
      l.restart_attempt = static_cast<int>(to_integer("TORCHELASTIC_RESTART_COUNT", env("TORCHELASTIC_RESTART_COUNT"), 0, kMaxWorld));
    if (env("LOCAL_WORLD_SIZE").empty()) {
      l.single_node = is_loopback(l.master_addr);
      l.local_world = l.single_node ? l.world : 1;
    } else {
      l.local_world = static_cast<int>(to_integer("LOCAL_WORLD_SIZE", env("LOCAL_WORLD_SIZE"), 1, kMaxWorld));
      l.single_node = l.local_world == l.world;
    }
  } else if (!env("SLURM_PROCID").empty() && !env("SLURM_NTASKS").empty() &&
             (!env("SLURM_STEP_ID").empty() || !env("SLURM_STEPID").empty())) {
    // Inside an srun job step (a batch script's own shell has no step id and stays one process).
    l.source = "slurm";
    l.world = static_cast<int>(to_integer("SLURM_NTASKS", env("SLURM_NTASKS"), 1, kMaxWorld));
    l.rank = static_cast<int>(to_integer("SLURM_PROCID", env("SLURM_PROCID"), 0, l.world - 1));
    if (!env("SLURM_LOCALID").empty()) l.local_rank = static_cast<int>(to_integer("SLURM_LOCALID", env("SLURM_LOCALID"), 0, kMaxWorld));
    const std::string nodes = !env("SLURM_STEP_NODELIST").empty() ? env("SLURM_STEP_NODELIST") : env("SLURM_JOB_NODELIST");
    l.master_addr = !env("MASTER_ADDR").empty() ? env("MASTER_ADDR") : nodes.empty() ? "127.0.0.1" : first_host(nodes);
    const std::string nnodes = !env("SLURM_STEP_NUM_NODES").empty() ? env("SLURM_STEP_NUM_NODES") : env("SLURM_NNODES");
    const long num_nodes = nnodes.empty() ? 1 : to_integer("SLURM_NNODES", nnodes, 1, kMaxWorld);
    l.single_node = num_nodes == 1;
    l.local_world = static_cast<int>((l.world + num_nodes - 1) / num_nodes);
    if (!env("MASTER_PORT").empty()) {
      l.master_port = static_cast<int>(to_integer("MASTER_PORT", env("MASTER_PORT"), 1, 65535));
    } else if (!env("SLURM_JOB_ID").empty()) {  // two jobs sharing a node must not share a port
      l.master_port = 20000 + static_cast<int>(to_integer("SLURM_JOB_ID", env("SLURM_JOB_ID"), 0, 0x7fffffffL) % 20000);
    }
  }
  return l;
}

}  // namespace sne::distributed
