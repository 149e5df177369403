#include "train/model.h"

#include <torch/torch.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>

#include "baselines/baselines.h"
#include "core/error.h"
#include "core/strings.h"

namespace sne::train {

encoder::EncoderOptions encoder_options(const config::EncoderSettings& s) {
  encoder::EncoderOptions o;
  o.blocks.dim = s.dim;
  o.blocks.heads = s.heads;
  o.blocks.ff_mult = s.ff_mult;
  o.blocks.pre_ln = s.pre_ln;
  o.blocks.pma_seed_residual = s.pma_seed_residual;
  o.chunk_size = s.chunk_size;
  o.chunk_budget = s.chunk_budget;
  o.value_embedding = s.value_embedding;
  o.fourier_bands = s.fourier_bands;
  o.level_encoding = s.level_encoding;
  o.position_scale = s.position_scale;
  o.type_encoding = s.type_encoding;
  o.element_positions = s.element_positions;
  o.role_encoding = s.role_encoding;
  o.set_functions = s.set_functions;
  o.hierarchy = s.hierarchy;
  o.fused_kernels = s.kernels == "fused";
  o.blocks.fused_attention = o.fused_kernels && s.attention_kernel;
  return o;
}

Json ModelShape::to_json() const {
  Json j = Json::object();
  j.set("num_params", static_cast<long long>(num_params));
  j.set("max_tensors", static_cast<long long>(max_tensors));
  return j;
}

ModelShape ModelShape::from_json(const Json* j) {
  ModelShape s;
  if (!j) return s;
  s.num_params = j->at("num_params").as_int();
  s.max_tensors = j->at("max_tensors").as_int();
  if (s.num_params < 0 || s.num_params > (int64_t{1} << 31) || s.max_tensors < 0 || s.max_tensors > (1 << 20))
    throw std::runtime_error("model_shape " + j->dump() + " is out of range (num_params 0..2^31, max_tensors 0..2^20)");
  return s;
}

namespace {
// The architectures (indices) of the networks of `split` ("" = all).
std::set<int32_t> architectures_in(const zoo::ZooFile& z, const std::string& split) {
  const auto& arch = z.network_architecture();
  std::set<int32_t> out;
  if (split.empty()) {
    out.insert(arch.begin(), arch.end());
  } else {
    for (int64_t i : z.split(split)) out.insert(arch.at(static_cast<std::size_t>(i)));
  }
  return out;
}

std::string where(const zoo::ZooFile& z, const std::string& split) {
  return z.path() + (split.empty() ? std::string() : " (split '" + split + "')");
}

int64_t num_tensors(const zoo::ArchitectureSpec& a) {
  int64_t n = 0;
  for (const auto& l : a.layers) n += static_cast<int64_t>(l.tensors.size());
  return n;
}
}  // namespace

ModelShape model_shape(const config::Config& c, const zoo::ZooFile& z, const std::string& split) {
  ModelShape s;
  const auto archs = architectures_in(z, split);
  if (c.model == "mlp") {
    if (archs.size() != 1) {
      std::vector<std::string> names;
      for (int32_t a : archs) names.push_back(z.architectures()[static_cast<std::size_t>(a)].name);
      throw DataError(where(z, split) + ": the mlp baseline reads networks of one architecture; this holds " +
                      std::to_string(archs.size()) + " (" + join(names) +
                      "). Use model: sne, deepsets or statnn for a mixed zoo");
    }
    s.num_params = z.architectures()[static_cast<std::size_t>(*archs.begin())].num_params();
  } else if (c.model == "statnn") {
    for (int32_t a : archs) s.max_tensors = std::max(s.max_tensors, num_tensors(z.architectures()[static_cast<std::size_t>(a)]));
  }
  return s;
}

void require_readable(const config::Config& c, const ModelShape& shape, const zoo::ZooFile& z,
                      const std::string& split) {
  for (int32_t a : architectures_in(z, split)) {
    const auto& spec = z.architectures()[static_cast<std::size_t>(a)];
    if (c.model == "mlp" && spec.num_params() != shape.num_params)
      throw DataError(where(z, split) + ": architecture '" + spec.name + "' has " +
                      std::to_string(spec.num_params()) + " parameters, but this mlp model reads networks of " +
                      std::to_string(shape.num_params));
    if (c.model == "statnn" && num_tensors(spec) > shape.max_tensors)
      throw DataError(where(z, split) + ": architecture '" + spec.name + "' has " +
                      std::to_string(num_tensors(spec)) + " parameter tensors, but this statnn model reads at most " +
                      std::to_string(shape.max_tensors));
  }
}

bool ModelImpl::invariant_to(const std::vector<zoo::ArchitectureSpec>& archs) const {
  return std::all_of(archs.begin(), archs.end(), [&](const zoo::ArchitectureSpec& a) { return encoder_->invariant_to(a); });
}

ModelImpl::ModelImpl(std::shared_ptr<encoder::WeightEncoderImpl> enc, int64_t hidden, int64_t layers) {
  encoder_ = register_module("encoder", std::move(enc));
  predictor_ = register_module("predictor", baselines::mlp(encoder_->dim(), hidden, layers, 1));
}

torch::Tensor ModelImpl::forward(const encoder::EncoderInput& in) {
  return predictor_->forward(encoder_->forward(in)).squeeze(1);
}

Model make_model(const config::Config& c, const ModelShape& shape) {
  std::shared_ptr<encoder::WeightEncoderImpl> enc;
  const auto& b = c.baseline;
  if (c.model == "sne") enc = std::make_shared<encoder::SNEEncoderImpl>(encoder_options(c.encoder));
  else if (c.model == "mlp") enc = std::make_shared<baselines::FlatMLPImpl>(shape.num_params, b.hidden, b.layers, c.encoder.dim);
  else if (c.model == "deepsets") enc = std::make_shared<baselines::DeepSetsImpl>(b.hidden, b.layers, c.encoder.dim);
  else if (c.model == "statnn") enc = std::make_shared<baselines::StatNNImpl>(shape.max_tensors, b.hidden, b.layers, c.encoder.dim);
  else throw ConfigError("model: unknown model '" + c.model + "'");
  return Model(std::move(enc), c.predictor.hidden, c.predictor.layers);
}

int64_t count_parameters(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

int64_t model_parameters(const config::Config& c, const ModelShape& shape) {
  const auto linear = [](int64_t i, int64_t o) { return i * o + o; };
  const int64_t d = c.encoder.dim, f = c.encoder.ff_mult * d;
  const auto& b = c.baseline;
  int64_t encoder = 0;
  if (c.model == "sne") {
    const int64_t attention = 4 * linear(d, d), ff = linear(d, f) + linear(f, d);
    const int64_t sab = attention + 2 * 2 * d + ff, pma = d + attention + 3 * 2 * d + ff;
    const int64_t value = c.encoder.value_embedding == "fourier" ? linear(1 + 2 * c.encoder.fourier_bands, d) : linear(1, d);
    encoder = value + 3 * d + 10 * sab + 4 * pma;  // role embedding; phi1..phi4 and merge, two SABs each; 4 PMAs
    if (c.encoder.element_positions) encoder += 6 * encoder::SNEEncoderImpl::kElementBands * d;
  } else if (c.model == "mlp") {
    encoder = baselines::mlp_parameters(shape.num_params, b.hidden, b.layers, d);
  } else if (c.model == "deepsets") {
    encoder = baselines::mlp_parameters(1 + 2 * baselines::DeepSetsImpl::kPositionDim, b.hidden, b.layers, b.hidden) +
              baselines::mlp_parameters(b.hidden, b.hidden, b.layers, d);
  } else if (c.model == "statnn") {
    encoder = baselines::mlp_parameters(shape.max_tensors * baselines::StatNNImpl::kStats, b.hidden, b.layers, d);
  }
  return encoder + baselines::mlp_parameters(d, c.predictor.hidden, c.predictor.layers, 1);
}

int64_t machine_memory_bytes() {
  int64_t bytes = static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) * static_cast<int64_t>(::sysconf(_SC_PAGE_SIZE));
  for (const char* limit : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream f(limit);
    long long v = 0;
    if (f >> v && v > 0) bytes = std::min<int64_t>(bytes, v);  // "max" (no limit) does not parse
  }
  return bytes;
}

void require_model_fits(const config::Config& c, const ModelShape& shape, int bytes_per_parameter,
                        int64_t available_bytes) {
  if (available_bytes < 0) available_bytes = machine_memory_bytes();
  const double need = static_cast<double>(model_parameters(c, shape)) * bytes_per_parameter;
  if (need <= 0.8 * static_cast<double>(available_bytes)) return;
  std::string sizes;
  if (c.model == "sne")
    sizes = "encoder.dim " + std::to_string(c.encoder.dim) + ", encoder.ff_mult " + std::to_string(c.encoder.ff_mult);
  else
    sizes = "baseline.hidden " + std::to_string(c.baseline.hidden) + ", baseline.layers " + std::to_string(c.baseline.layers) +
            (c.model == "mlp" ? ", on " + std::to_string(shape.num_params) + " weights per network" : std::string());
  sizes += ", predictor.hidden " + std::to_string(c.predictor.hidden) + ", predictor.layers " +
           std::to_string(c.predictor.layers);
  const auto gib = [](double b) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f GiB", b / (1024.0 * 1024.0 * 1024.0));
    return std::string(text);
  };
  throw ConfigError("model " + c.model + " with " + sizes + " has " + std::to_string(model_parameters(c, shape)) +
                    " parameters: " + gib(need) + (bytes_per_parameter >= 16 ? " with gradients and AdamW's state" : "") +
                    ", more than this machine's " + gib(static_cast<double>(available_bytes)) + " allows (80 %)");
}

}  // namespace sne::train
