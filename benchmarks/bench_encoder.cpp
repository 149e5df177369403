// SNE encoder throughput, measured the way a training loop pays for it: networks/s for encoding (eval mode, no
// grad) and for training (pack the batch, forward, a second forward for the invariance term, backward, gradient
// clipping, AdamW), at the default config's settings, for one architecture per process so that the peak RSS is
// that architecture's. benchmarks/side_by_side.py runs it next to the PyTorch reference in
// benchmarks/reference/ (which reads the same settings from --dump-setup) and prints the ratios.
//
//   bench_encoder --arch siren|small_cnn|arch2|vit|mlp_256x1024 [--batch 32] [--repeat 5] [--threads 0]
//                 [--device cpu] [--set KEY=VALUE ...] [--json OUT]
//   bench_encoder --dump-setup FILE [--batch 32] [--set KEY=VALUE ...]
//   bench_encoder --memory [--batch 32] [--threads 0] [--set KEY=VALUE ...]   one training step per architecture
//                                      and chunk budget, each in a fresh process: the peak-RSS table
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "config/config.h"
#include "encoder/encoder_input.h"
#include "encoder/fused/chunk_kernel.h"
#include "generators/cnn_arch.h"
#include "runtime/context.h"
#include "train/model.h"

using namespace sne;

namespace {

zoo::ArchitectureSpec mlp(const std::string& name, const std::vector<int64_t>& widths) {
  zoo::ArchitectureSpec a;
  a.name = name;
  for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
    const std::string n = "l" + std::to_string(l);
    a.layers.push_back({n, zoo::LayerKind::linear, static_cast<int>(l),
                        {{n + ".weight", "weight", {widths[l + 1], widths[l]}}, {n + ".bias", "bias", {widths[l + 1]}}},
                        Json::object()});
  }
  a.assign_offsets();
  return a;
}

zoo::ArchitectureSpec cnn(const std::string& arch) {  // the generator's own spec, for 28x28 grayscale images
  config::CnnZooSettings r = config::defaults().generate.cnn;
  r.arch = arch;
  return generators::cnn_architecture(r, 1, 28, 28);
}

/// The benchmark's architectures: the INR task's SIREN, the Small CNN Zoo's CNN (arch1), arch2 (a 6400-weight
/// dense layer), the generator's default ViT (64-wide blocks, 64x128 MLP layers), and a 256x1024 dense layer.
std::map<std::string, zoo::ArchitectureSpec> architectures() {
  std::map<std::string, zoo::ArchitectureSpec> out;
  out["siren"] = mlp("siren", {1, 32, 32, 1});
  out["small_cnn"] = cnn("arch1");
  out["arch2"] = cnn("arch2");
  out["vit"] = cnn("vit");
  out["mlp_256x1024"] = mlp("mlp_256x1024", {1024, 256, 10});
  return out;
}
const std::vector<std::string> kOrder{"siren", "small_cnn", "arch2", "vit", "mlp_256x1024"};

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
double peak_rss_mib() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

// float32 matmul rate of this machine at the configured threads (the achievable peak the kernels are held to).
double matmul_gflops() {
  const torch::Tensor a = torch::randn({1024, 1024}), b = torch::randn({1024, 1024});
  torch::Tensor c = torch::mm(a, b);
  const double t0 = now();
  const int reps = 10;
  for (int k = 0; k < reps; ++k) c = torch::mm(a, b);
  return 2.0 * 1024 * 1024 * 1024 * reps / (now() - t0) / 1e9;
}

struct Rates {
  double encode = 0, train = 0;
};

Rates measure(const config::Config& c, const zoo::ArchitectureSpec& spec, int64_t batch, int repeat,
              const Context& ctx, bool encode_too, const std::string& profile_out) {
  torch::manual_seed(0);
  train::Model model = train::make_model(c);
  const at::Device dev = ctx.device == "cuda" ? at::Device(at::kCUDA) : at::Device(at::kCPU);
  model->to(dev);
  torch::optim::AdamW opt(model->parameters(),
                          torch::optim::AdamWOptions(c.train.lr).weight_decay(c.train.weight_decay));
  const torch::Tensor params = torch::randn({batch, spec.num_params()}) * 0.1;
  std::vector<const zoo::ArchitectureSpec*> archs(static_cast<std::size_t>(batch), &spec);
  std::vector<const float*> rows;
  for (int64_t i = 0; i < batch; ++i) rows.push_back(params[i].data_ptr<float>());
  encoder::BatchPacker packer(c.encoder.chunk_size);
  const auto pack = [&] { return packer.pack(archs, rows, dev); };
  // The trainer's invariance pass: the batch and its (here: untransformed) copy encoded in one forward pass.
  std::vector<const zoo::ArchitectureSpec*> archs2 = archs;
  archs2.insert(archs2.end(), archs.begin(), archs.end());
  std::vector<const float*> rows2 = rows;
  rows2.insert(rows2.end(), rows.begin(), rows.end());
  const auto sync = [&] { if (dev.is_cuda()) torch::cuda::synchronize(); };
  Rates r;
  if (encode_too) {
    torch::NoGradGuard g;
    model->eval();
    model->forward(pack());  // warm-up
    sync();
    const double t0 = now();
    for (int k = 0; k < repeat; ++k) model->forward(pack());
    sync();
    r.encode = static_cast<double>(batch * repeat) / (now() - t0);
    model->train();
  }
  const auto step = [&] {
    const torch::Tensor all = model->forward(packer.pack(archs2, rows2, dev));
    const torch::Tensor out = all.narrow(0, 0, batch), again = all.narrow(0, batch, batch);
    const torch::Tensor loss = out.pow(2).mean() + c.train.invariance_weight * 0.5 * (out - again).pow(2).mean();
    opt.zero_grad();
    loss.backward();
    if (c.train.grad_clip > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), c.train.grad_clip);
    opt.step();
  };
  step();
  sync();
  if (!profile_out.empty()) {
    // A chrome://tracing file of two more training steps (op by op, forward and backward), not timed.
    torch::autograd::profiler::RecordProfile guard(profile_out);
    for (int k = 0; k < 2; ++k) step();
  }
  const double t0 = now();
  for (int k = 0; k < repeat; ++k) step();
  sync();
  r.train = static_cast<double>(batch * repeat) / (now() - t0);
  return r;
}

int64_t chunks_of(const zoo::ArchitectureSpec& a, int64_t c) {
  int64_t n = 0;
  for (const auto& l : a.layers)
    for (const auto& t : l.tensors) n += (t.numel() + c - 1) / c;
  return n;
}

Json setup_json(const config::Config& c, int64_t batch) {
  Json enc = Json::object();
  enc.set("dim", static_cast<long long>(c.encoder.dim));
  enc.set("heads", static_cast<long long>(c.encoder.heads));
  enc.set("ff_mult", static_cast<long long>(c.encoder.ff_mult));
  enc.set("pre_ln", c.encoder.pre_ln);
  enc.set("pma_seed_residual", c.encoder.pma_seed_residual);
  enc.set("chunk_size", static_cast<long long>(c.encoder.chunk_size));
  enc.set("value_embedding", c.encoder.value_embedding);
  enc.set("fourier_bands", static_cast<long long>(c.encoder.fourier_bands));
  enc.set("level_encoding", c.encoder.level_encoding);
  enc.set("type_encoding", c.encoder.type_encoding);
  enc.set("role_encoding", c.encoder.role_encoding);
  enc.set("set_functions", c.encoder.set_functions);
  enc.set("hierarchy", c.encoder.hierarchy);
  Json pred = Json::object();
  pred.set("hidden", static_cast<long long>(c.predictor.hidden));
  pred.set("layers", static_cast<long long>(c.predictor.layers));
  Json tr = Json::object();
  tr.set("lr", c.train.lr);
  tr.set("weight_decay", c.train.weight_decay);
  tr.set("grad_clip", c.train.grad_clip);
  tr.set("invariance_weight", c.train.invariance_weight);
  Json archs = Json::array();
  const auto all = architectures();
  for (const auto& name : kOrder) {
    const auto& a = all.at(name);
    // The zoo's architecture JSON, under the benchmark's name, with what the reference reads besides:
    // the parameter count (it checks its own against it) and each layer's kind id (its type encoding).
    Json aj = a.to_json();
    aj.set("name", name);
    aj.set("num_params", static_cast<long long>(a.num_params()));
    Json layers = aj.at("layers");
    for (std::size_t k = 0; k < a.layers.size(); ++k)
      layers.as_array()[k].set("kind_id", static_cast<long long>(static_cast<int>(a.layers[k].kind)));
    aj.set("layers", layers);
    archs.push_back(aj);
  }
  Json s = Json::object();
  s.set("encoder", enc);
  s.set("predictor", pred);
  s.set("train", tr);
  s.set("batch", static_cast<long long>(batch));
  s.set("architectures", archs);
  return s;
}

// Peak RSS (MiB) of a fresh process (this binary, re-executed: forking after OpenMP has started would hang the
// child) that runs one training step of `batch` networks of `arch` under `budget` chunks; -1 if it failed.
double child_peak_rss(const char* self, const std::string& arch, int64_t batch, int64_t budget, int64_t threads,
                      const std::vector<std::string>& sets) {
  std::vector<std::string> args{self, "--arch", arch, "--batch", std::to_string(batch), "--repeat", "1",
                                "--threads", std::to_string(threads), "--train-only", "1", "--quiet", "1"};
  for (const auto& s : sets) args.insert(args.end(), {"--set", s});
  args.insert(args.end(), {"--set", "encoder.chunk_budget=" + std::to_string(budget)});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    execv(self, argv.data());
    _exit(127);
  }
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? static_cast<double>(ru.ru_maxrss) / 1024.0 : -1.0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string arch, json_out, setup_out, profile_out, device = "cpu";
  int64_t batch = 32, threads = 0;
  int repeat = 5;
  bool memory = false, train_only = false, quiet = false;
  std::vector<std::string> sets;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_encoder: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--arch") arch = value();
    else if (a == "--batch") batch = std::stoll(value());
    else if (a == "--repeat") repeat = std::stoi(value());
    else if (a == "--threads") threads = std::stoll(value());
    else if (a == "--device") device = value();
    else if (a == "--json") json_out = value();
    else if (a == "--dump-setup") setup_out = value();
    else if (a == "--profile") profile_out = value();
    else if (a == "--set") sets.push_back(value());
    else if (a == "--train-only") train_only = value() == "1";
    else if (a == "--quiet") quiet = value() == "1";
    else if (a == "--memory") memory = true;
    else {
      std::printf("usage: bench_encoder --arch NAME [--batch 32] [--repeat 5] [--threads 0] [--device cpu|cuda]\n"
                  "                     [--set KEY=VALUE ...] [--json OUT] [--train-only 1] [--profile TRACE.json]\n"
                  "       bench_encoder --dump-setup FILE [--batch 32] [--set KEY=VALUE ...]\n"
                  "       bench_encoder --memory [--batch 32] [--threads 0] [--set KEY=VALUE ...]\n"
                  "architectures: siren small_cnn arch2 vit mlp_256x1024\n");
      return a == "--help" ? 0 : 2;
    }
  }
  config::Config c = config::resolve({}, sets);
  const auto all = architectures();
  if (!setup_out.empty()) {
    std::ofstream(setup_out) << setup_json(c, batch).dump() << "\n";
    return 0;
  }
  const Context ctx = make_context(device, threads, 0);
  if (memory) {
    std::printf("bench_encoder: %s\npeak RSS (MiB) of one training step of %lld networks (a fresh process each), by "
                "encoder.chunk_budget:\n",
                describe_runtime(ctx).c_str(), static_cast<long long>(batch));
    const std::vector<int64_t> budgets{0, 16384, 4096, 1024};
    std::printf("%-14s %8s %10s", "network", "params", "chunks");
    for (int64_t b : budgets) std::printf(" %10s", b ? std::to_string(b).c_str() : "none");
    std::printf("\n");
    for (const std::string name : {"small_cnn", "arch2", "vit", "mlp_256x1024"}) {
      const auto& spec = all.at(name);
      std::printf("%-14s %8lld %10lld", name.c_str(), static_cast<long long>(spec.num_params()),
                  static_cast<long long>(batch * chunks_of(spec, c.encoder.chunk_size)));
      std::fflush(stdout);
      for (int64_t b : budgets) {
        std::printf(" %10.0f", child_peak_rss(argv[0], name, batch, b, ctx.threads, sets));
        std::fflush(stdout);
      }
      std::printf("\n");
    }
    return 0;
  }
  if (!all.count(arch)) {
    std::fprintf(stderr, "bench_encoder: --arch must be one of siren small_cnn arch2 vit mlp_256x1024 (got '%s')\n",
                 arch.c_str());
    return 2;
  }
  const auto& spec = all.at(arch);
  const Rates r = measure(c, spec, batch, repeat, ctx, !train_only, profile_out);
  if (quiet) return 0;
  const double peak = matmul_gflops();
  std::printf("bench_encoder: %s; batch %lld, h=%lld, c=%lld, kernels %s (BLAS in process: %s)\n",
              describe_runtime(ctx).c_str(), static_cast<long long>(batch), static_cast<long long>(c.encoder.dim),
              static_cast<long long>(c.encoder.chunk_size), c.encoder.kernels.c_str(),
              encoder::kernels::has_blas() ? "yes" : "no");
  std::printf("%-14s %8s %8s %14s %14s %10s %14s\n", "network", "params", "chunks", "encode nets/s", "train nets/s",
              "peak MiB", "matmul GFLOP/s");
  std::printf("%-14s %8lld %8lld %14.1f %14.1f %10.0f %14.1f\n", arch.c_str(),
              static_cast<long long>(spec.num_params()),
              static_cast<long long>(chunks_of(spec, c.encoder.chunk_size)), r.encode, r.train, peak_rss_mib(), peak);
  if (!json_out.empty()) {
    Json j = Json::object();
    j.set("arch", arch);
    j.set("params", static_cast<long long>(spec.num_params()));
    j.set("chunks_per_network", static_cast<long long>(chunks_of(spec, c.encoder.chunk_size)));
    j.set("encode_nets_per_s", r.encode);
    j.set("train_nets_per_s", r.train);
    j.set("peak_rss_mib", peak_rss_mib());
    j.set("matmul_gflops", peak);
    j.set("blas", describe_runtime(ctx));
    j.set("threads", static_cast<long long>(ctx.threads));
    j.set("kernels", c.encoder.kernels);
    std::ofstream(json_out) << j.dump() << "\n";
  }
  return 0;
}
