// Sine-INR generation throughput: INRs trained per second in one batched computation vs one at a time, in the
// same run, and the achieved fraction of this machine's float32 matmul rate (measured here on a 1024^3 matmul).
// Every INR runs exactly --steps Adam steps (the early stop is disabled) so runs are comparable.
//
//   bench_sine_generate [--steps 100] [--inrs 256] [--batches 1,16,64,256] [--threads 0] [--device cpu]
#include <ATen/ATen.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "generators/sine_inr.h"
#include "runtime/context.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Best of three 1024^3 float32 matmuls, in GFLOP/s.
double matmul_peak_gflops(const sne::Context& ctx) {
  const auto opts = at::TensorOptions().dtype(at::kFloat).device(ctx.device == "cuda" ? at::kCUDA : at::kCPU);
  const at::Tensor a = at::randn({1024, 1024}, opts), b = at::randn({1024, 1024}, opts);
  at::Tensor c = at::mm(a, b);  // warm-up
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < 4; ++k) c = at::mm(a, b);
    (void)c.sum().item<float>();  // synchronises a GPU
    best = std::min(best, seconds_since(t0) / 4);
  }
  return 2.0 * 1024 * 1024 * 1024 / best / 1e9;
}

std::vector<int64_t> parse_list(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::stoll(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t steps = 100, inrs = 256, threads = 0;
  std::string device = "cpu", batches_text = "1,16,64,256";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) { std::fprintf(stderr, "missing value for %s\n", a.c_str()); std::exit(2); }
      return argv[++i];
    };
    if (a == "--steps") steps = std::stoll(value());
    else if (a == "--inrs") inrs = std::stoll(value());
    else if (a == "--batches") batches_text = value();
    else if (a == "--threads") threads = std::stoll(value());
    else if (a == "--device") device = value();
    else {
      std::printf("usage: bench_sine_generate [--steps N] [--inrs N] [--batches 1,16,64,256] [--threads N] "
                  "[--device cpu|cuda]\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  const sne::Context ctx = sne::make_context(device, threads, 0);
  sne::config::SineZooSettings r = sne::config::defaults().generate.sine;
  r.max_steps = steps;
  r.target_loss = -1;  // never reached: every INR runs max_steps
  const double flop_per_inr_step = 12.6e6 * static_cast<double>(r.points) / 2000.0;
  const double peak = matmul_peak_gflops(ctx);
  std::printf("bench_sine_generate: %s\n", sne::describe_runtime(ctx).c_str());
  std::printf("float32 matmul 1024^3: %.1f GFLOP/s; %lld steps per INR, %.1f MFLOP per INR-step\n\n", peak,
              static_cast<long long>(steps), flop_per_inr_step / 1e6);
  std::printf("%8s %8s %10s %12s %10s %10s\n", "batch", "INRs", "seconds", "INR-steps/s", "GFLOP/s", "of peak");
  double one_at_a_time = 0;
  for (int64_t batch : parse_list(batches_text)) {
    r.batch = batch;
    // One at a time is slow: time fewer INRs for small batches, the rate is what matters.
    const int64_t n = batch == 1 ? std::min<int64_t>(inrs, 8) : std::max<int64_t>(inrs, batch);
    std::vector<int64_t> ids(static_cast<std::size_t>(n));
    std::iota(ids.begin(), ids.end(), 0);
    int64_t done = 0;
    const auto t0 = std::chrono::steady_clock::now();
    sne::generators::train_sines(r, 0, ids, ctx, [&](sne::generators::SineResult&&) { ++done; });
    const double s = seconds_since(t0);
    const double rate = static_cast<double>(n * steps) / s;
    if (batch == 1) one_at_a_time = rate;
    std::printf("%8lld %8lld %10.2f %12.0f %10.1f %9.1f%%", static_cast<long long>(batch), static_cast<long long>(n), s,
                rate, rate * flop_per_inr_step / 1e9, 100.0 * rate * flop_per_inr_step / 1e9 / peak);
    if (one_at_a_time > 0 && batch != 1) std::printf("   %.1fx one at a time", rate / one_at_a_time);
    std::printf("\n");
  }
  return 0;
}
