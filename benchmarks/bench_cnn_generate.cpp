// CNN-zoo generation throughput: image-steps per second of arch1 networks trained at once, one network at a
// time ("per_network") against grouped convolutions ("grouped"), in the same run, and with the process's
// allocator as `sne` sets it (large freed blocks kept for reuse) or glibc's default (--glibc-default).
// Random images stand in for a dataset: the cost does not depend on the pixels.
//
//   bench_cnn_generate [--networks 16] [--images 4096] [--batch 512] [--threads 0] [--device cpu] [--glibc-default]
#include <ATen/ATen.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "config/config.h"
#include "generators/cnn_zoo.h"
#include "runtime/context.h"

int main(int argc, char** argv) {
  int64_t networks = 16, images = 4096, batch = 512, threads = 0;
  std::string device = "cpu";
  bool glibc_default = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) { std::fprintf(stderr, "bench_cnn_generate: %s needs a value\n", a.c_str()); std::exit(2); }
      return argv[++i];
    };
    if (a == "--networks") networks = std::atoll(next());
    else if (a == "--images") images = std::atoll(next());
    else if (a == "--batch") batch = std::atoll(next());
    else if (a == "--threads") threads = std::atoll(next());
    else if (a == "--device") device = next();
    else if (a == "--glibc-default") glibc_default = true;
    else { std::fprintf(stderr, "bench_cnn_generate: unknown option %s\n", a.c_str()); return 2; }
  }
#if defined(__GLIBC__)
  if (!glibc_default) {  // as apps/sne/main.cpp
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
  }
#endif
  const sne::Context ctx = sne::make_context(device, threads, 0);
  auto r = sne::config::defaults().generate.cnn;
  r.epochs = 1;
  r.checkpoint_epochs = "1";
  r.batch_size = batch;
  r.train_fractions = "1";
  r.train_eval_examples = 256;
  const auto choices = sne::generators::parse_cnn_choices(r);
  const auto spec = sne::generators::cnn_architecture(r, 1, 28, 28);
  sne::generators::CnnData data;
  const auto dev = torch::Device(ctx.device);
  data.train_x = (torch::rand({images, 1, 28, 28}) * 2 - 1).to(dev);
  data.train_y = torch::randint(0, 10, {images}, torch::kLong).to(dev);
  data.test_x = data.train_x.narrow(0, 0, 512);
  data.test_y = data.train_y.narrow(0, 0, 512);
  std::vector<sne::generators::CnnRun> runs;
  for (int64_t k = 0; k < networks; ++k) runs.push_back(sne::generators::sample_cnn_run(r, choices, 0, k));
  std::printf("bench_cnn_generate: %lld arch1 networks, %lld images, batch %lld, %s, allocator %s\n",
              static_cast<long long>(networks), static_cast<long long>(images), static_cast<long long>(batch),
              sne::describe_runtime(ctx).c_str(), glibc_default ? "glibc default" : "as sne (mallopt)");
  double base = 0;
  for (const std::string mode : {"per_network", "grouped"}) {
    rusage before{}, after{};
    getrusage(RUSAGE_SELF, &before);
    const auto t0 = std::chrono::steady_clock::now();
    sne::generators::train_cnn_runs(spec, r, choices, runs, data, ctx, nullptr, {}, mode);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    getrusage(RUSAGE_SELF, &after);
    const double steps = static_cast<double>(networks * ((images + batch - 1) / batch) * batch);
    if (base == 0) base = s;
    std::printf("  %-12s %8.2f s  %10.0f image-steps/s  %6.2fx the per_network time  %ld minor page faults\n",
                mode.c_str(), s, steps / s, s / base, after.ru_minflt - before.ru_minflt);
  }
  return 0;
}
