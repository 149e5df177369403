#pragma once
// The execution context passed to every component that computes: device, threads, seed. Nothing global.
#include <cstdint>
#include <string>

namespace sne {

struct Context {
  std::string device = "cpu";  ///< resolved: "cpu" or "cuda"
  int device_index = 0;        ///< which CUDA device (see use_local_device)
  int threads = 1;             ///< intra-op threads in use
  uint64_t seed = 0;
};

/// Resolves the requested settings against this machine and applies the thread count to LibTorch.
/// device: "cpu" | "cuda" | "auto" (cuda when available); threads: 0 = all cores.
/// Throws UsageError for "cuda" on a build or machine without CUDA, or an unknown device.
Context make_context(const std::string& device, int64_t threads, int64_t seed);

/// A data-parallel rank's own GPU: CUDA device local_rank modulo the devices this process sees (none on a CPU
/// context). Ranks sharing a host then spread over its GPUs; with one visible device each (SLURM's per-task GPU
/// binding), every rank takes it.
void use_local_device(Context& ctx, int local_rank);

/// One line describing the runtime: LibTorch version, device, threads, BLAS (for logs and benchmarks).
std::string describe_runtime(const Context& ctx);

/// LibTorch's version, e.g. "1.13.0".
std::string torch_version();

}  // namespace sne
