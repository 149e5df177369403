#include "runtime/context.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <fstream>
#include <thread>

#include "core/error.h"

namespace sne {

std::string torch_version() { return TORCH_VERSION; }

Context make_context(const std::string& device, int64_t threads, int64_t seed) {
  Context ctx;
  if (device == "cuda") {
    if (!torch::cuda::is_available())
      throw UsageError("device 'cuda' requested, but this sne build or machine has no usable CUDA device "
                       "(use --device cpu or auto)");
    ctx.device = "cuda";
  } else if (device == "auto") {
    ctx.device = torch::cuda::is_available() ? "cuda" : "cpu";
  } else if (device == "cpu") {
    ctx.device = "cpu";
  } else {
    throw UsageError("unknown device '" + device + "' (expected cpu, cuda or auto)");
  }
  if (threads < 0) throw UsageError("threads must be >= 0 (0 = all cores)");
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  ctx.threads = threads == 0 ? static_cast<int>(cores) : static_cast<int>(threads);
  at::set_num_threads(ctx.threads);
  ctx.seed = static_cast<uint64_t>(seed);
  return ctx;
}

void use_local_device(Context& ctx, int local_rank) {
  if (ctx.device != "cuda") return;
  const auto n = static_cast<int>(torch::cuda::device_count());
  ctx.device_index = n > 0 ? local_rank % n : 0;
}

namespace {
// The shared library behind libblas.so.3 (Debian's alternatives), which decides CPU matmul speed.
std::string active_blas() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    for (const char* name : {"openblas", "libblis", "libmkl", "atlas", "/blas/libblas"}) {
      if (line.find(name) != std::string::npos) return line.substr(line.find('/'));
    }
  }
  return "unknown";
}
}  // namespace

std::string describe_runtime(const Context& ctx) {
  return "LibTorch " + torch_version() + ", device " + ctx.device +
         (ctx.device == "cuda" ? ":" + std::to_string(ctx.device_index) : std::string()) + ", " + std::to_string(at::get_num_threads()) +
         " threads, BLAS " + active_blas();
}

}  // namespace sne
