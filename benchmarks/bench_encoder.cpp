// SNE encoder throughput: networks/s for encoding (forward, no grad) and for training (forward + backward of
// the model, twice with the invariance term), for the 1153-parameter SIREN of the INR task and the
// 4970-parameter CNN of the Small CNN Zoo; and peak memory of a training step against the chunk budget
// (each budget measured in a fresh child process).
//
//   bench_encoder [--batch 32] [--repeat 5] [--threads 0] [--device cpu]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "config/config.h"
#include "encoder/encoder_input.h"
#include "runtime/context.h"
#include "train/model.h"

using namespace sne;

namespace {

zoo::ArchitectureSpec siren() {
  zoo::ArchitectureSpec a;
  a.name = "siren";
  a.layers.push_back({"l0", zoo::LayerKind::linear, 0, {{"l0.weight", "weight", {32, 1}}, {"l0.bias", "bias", {32}}}, Json::object()});
  a.layers.push_back({"l1", zoo::LayerKind::linear, 1, {{"l1.weight", "weight", {32, 32}}, {"l1.bias", "bias", {32}}}, Json::object()});
  a.layers.push_back({"l2", zoo::LayerKind::linear, 2, {{"l2.weight", "weight", {1, 32}}, {"l2.bias", "bias", {1}}}, Json::object()});
  a.assign_offsets();
  return a;
}

zoo::ArchitectureSpec small_cnn() {  // Unterthiner et al.'s Small CNN Zoo architecture: 4970 parameters
  zoo::ArchitectureSpec a;
  a.name = "small_cnn";
  for (int l = 0; l < 3; ++l) {
    const int64_t in = l == 0 ? 1 : 16;
    const std::string n = "conv" + std::to_string(l);
    a.layers.push_back({n, zoo::LayerKind::conv2d, l, {{n + ".weight", "weight", {16, in, 3, 3}}, {n + ".bias", "bias", {16}}}, Json::object()});
  }
  a.layers.push_back({"dense", zoo::LayerKind::linear, 3, {{"dense.weight", "weight", {10, 16}}, {"dense.bias", "bias", {10}}}, Json::object()});
  a.assign_offsets();
  return a;
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Rates {
  double encode, train;
};

Rates measure(const zoo::ArchitectureSpec& spec, int64_t batch, int repeat, int64_t chunk_budget, const Context& ctx) {
  config::Config c = config::defaults();
  c.encoder.chunk_budget = chunk_budget;
  torch::manual_seed(0);
  train::Model model = train::make_model(c);
  const at::Device dev = ctx.device == "cuda" ? at::Device(at::kCUDA) : at::Device(at::kCPU);
  model->to(dev);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-4));
  const torch::Tensor params = torch::randn({batch, spec.num_params()}) * 0.1;
  std::vector<const zoo::ArchitectureSpec*> archs(static_cast<std::size_t>(batch), &spec);
  std::vector<const float*> rows;
  for (int64_t i = 0; i < batch; ++i) rows.push_back(params[i].data_ptr<float>());
  const auto in = encoder::build_input(archs, rows, c.encoder.chunk_size, dev);
  const auto sync = [&] { if (dev.is_cuda()) torch::cuda::synchronize(); };
  Rates r{};
  {
    torch::NoGradGuard g;
    model->forward(in);  // warm-up
    sync();
    const double t0 = now();
    for (int k = 0; k < repeat; ++k) model->forward(in);
    sync();
    r.encode = static_cast<double>(batch * repeat) / (now() - t0);
  }
  const auto step = [&] {
    const torch::Tensor out = model->forward(in), again = model->forward(in);  // second pass: the invariance term
    const torch::Tensor loss = out.pow(2).mean() + 0.5 * (out - again).pow(2).mean();
    opt.zero_grad();
    loss.backward();
    opt.step();
  };
  step();
  sync();
  const double t0 = now();
  for (int k = 0; k < repeat; ++k) step();
  sync();
  r.train = static_cast<double>(batch * repeat) / (now() - t0);
  return r;
}

// Peak RSS (MiB) of a fresh process (this binary, re-executed: forking after OpenMP has started would hang the
// child) that runs one training step of `batch` CNNs with the given chunk budget.
double peak_rss_mib(const char* self, int64_t batch, int64_t budget, int64_t threads) {
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string b = std::to_string(batch), c = std::to_string(budget), t = std::to_string(threads);
    execl(self, self, "--rss-child", b.c_str(), c.c_str(), t.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  return status == 0 ? static_cast<double>(ru.ru_maxrss) / 1024.0 : -1.0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--rss-child") {  // one measured training step (see peak_rss_mib)
    measure(small_cnn(), std::stoll(argv[2]), 1, std::stoll(argv[3]), make_context("cpu", std::stoll(argv[4]), 0));
    return 0;
  }
  int64_t batch = 32, threads = 0;
  int repeat = 5;
  std::string device = "cpu";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--batch") batch = std::stoll(argv[i + 1]);
    else if (a == "--repeat") repeat = std::stoi(argv[i + 1]);
    else if (a == "--threads") threads = std::stoll(argv[i + 1]);
    else if (a == "--device") device = argv[i + 1];
  }
  if (argc > 1 && std::string(argv[1]) == "--help") {
    std::printf("usage: bench_encoder [--batch 32] [--repeat 5] [--threads 0] [--device cpu|cuda]\n");
    return 0;
  }
  const Context ctx = make_context(device, threads, 0);
  std::printf("bench_encoder: %s; default encoder (h=32, c=32, 4 heads), batch %lld\n\n",
              describe_runtime(ctx).c_str(), static_cast<long long>(batch));
  std::printf("%-12s %8s %14s %14s\n", "network", "params", "encode nets/s", "train nets/s");
  for (const auto& spec : {siren(), small_cnn()}) {
    const Rates r = measure(spec, batch, repeat, 0, ctx);
    std::printf("%-12s %8lld %14.1f %14.1f\n", spec.name.c_str(), static_cast<long long>(spec.num_params()), r.encode,
                r.train);
  }
  int64_t chunks = 0;
  for (const auto& l : small_cnn().layers)
    for (const auto& t : l.tensors) chunks += (t.numel() + 31) / 32;
  std::printf("\npeak RSS of one training step on %lld Small-CNN networks (%lld chunks), by chunk budget:\n",
              static_cast<long long>(batch), static_cast<long long>(batch * chunks));
  std::printf("%14s %12s\n", "chunk budget", "peak MiB");
  for (int64_t budget : {0, 2048, 512, 128}) std::printf("%14s %12.0f\n", budget ? std::to_string(budget).c_str() : "all", peak_rss_mib(argv[0], batch, budget, threads));
  return 0;
}
