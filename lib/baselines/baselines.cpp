#include "baselines/baselines.h"

#include <torch/torch.h>

#include <stdexcept>
#include <string>

#include "encoder/sne_encoder.h"

namespace sne::baselines {

torch::nn::Sequential mlp(int64_t in, int64_t hidden, int64_t layers, int64_t out) {
  torch::nn::Sequential s;
  int64_t width = in;
  for (int64_t k = 0; k < layers; ++k) {
    s->push_back(torch::nn::Linear(width, hidden));
    s->push_back(torch::nn::GELU());
    width = hidden;
  }
  s->push_back(torch::nn::Linear(width, out));
  return s;
}

int64_t mlp_parameters(int64_t in, int64_t hidden, int64_t layers, int64_t out) {
  const auto linear = [](int64_t i, int64_t o) { return i * o + o; };
  if (layers == 0) return linear(in, out);
  return linear(in, hidden) + (layers - 1) * linear(hidden, hidden) + linear(hidden, out);
}

namespace {
std::vector<int64_t> tensor_network_list(const encoder::EncoderInput& in) {
  std::vector<int64_t> out;
  out.reserve(in.tensor_layer.size());
  for (int64_t l : in.tensor_layer) out.push_back(in.layer_network[static_cast<std::size_t>(l)]);
  return out;
}
}  // namespace

torch::Tensor tensor_network(const encoder::EncoderInput& in) {
  return torch::tensor(tensor_network_list(in), torch::kLong).to(in.chunks.values.device());
}

// ---- FlatMLP ------------------------------------------------------------------------------------------------

FlatMLPImpl::FlatMLPImpl(int64_t num_params, int64_t hidden, int64_t layers, int64_t dim)
    : num_params_(num_params), dim_(dim) {
  if (num_params < 1) throw std::invalid_argument("mlp baseline: the number of parameters must be >= 1");
  net_ = register_module("net", mlp(num_params, hidden, layers, dim));
}

torch::Tensor FlatMLPImpl::forward(const encoder::EncoderInput& in) {
  std::vector<int64_t> per_network(static_cast<std::size_t>(in.num_networks), 0);
  const auto owner = tensor_network_list(in);
  for (std::size_t t = 0; t < owner.size(); ++t) per_network[static_cast<std::size_t>(owner[t])] += in.chunks.numel[t];
  for (std::size_t i = 0; i < per_network.size(); ++i)
    if (per_network[i] != num_params_)
      throw std::invalid_argument("the mlp baseline reads networks of " + std::to_string(num_params_) +
                                  " parameters (one architecture); network " + std::to_string(i) +
                                  " of the batch has " + std::to_string(per_network[i]));
  // Chunks are in network, layer, tensor order, so the real elements in row-major order are each network's
  // weights in its architecture's order.
  const torch::Tensor flat = in.chunks.values.masked_select(in.chunks.mask);
  return net_->forward(flat.view({in.num_networks, num_params_}));
}

// ---- DeepSets -----------------------------------------------------------------------------------------------

DeepSetsImpl::DeepSetsImpl(int64_t hidden, int64_t layers, int64_t dim) : hidden_(hidden), dim_(dim) {
  phi_ = register_module("phi", mlp(1 + 2 * kPositionDim, hidden, layers, hidden));
  rho_ = register_module("rho", mlp(hidden, hidden, layers, dim));
}

torch::Tensor DeepSetsImpl::forward(const encoder::EncoderInput& in) {
  const auto& ch = in.chunks;
  const torch::Tensor mask = ch.mask;
  // Every real weight with the tensor and network it belongs to.
  const torch::Tensor values = ch.values.masked_select(mask);                                        // [E]
  const torch::Tensor tensor = ch.owner.unsqueeze(1).expand_as(mask).masked_select(mask);            // [E]
  const torch::Tensor network = tensor_network(in).index_select(0, tensor);                          // [E]
  const torch::Tensor position = torch::cat({encoder::sinusoid(in.tensor_level, kPositionDim),
                                             encoder::sinusoid(in.tensor_type, kPositionDim)}, 1);  // [T, 2p]
  const torch::Tensor x = torch::cat({values.unsqueeze(1), position.index_select(0, tensor)}, 1);   // [E, 1 + 2p]
  const torch::Tensor h = phi_->forward(x);                                                          // [E, hidden]
  const auto opts = h.options();
  const torch::Tensor sum = torch::zeros({in.num_networks, hidden_}, opts).index_add(0, network, h);
  const torch::Tensor count = torch::zeros({in.num_networks}, opts).index_add(0, network, torch::ones_like(values));
  return rho_->forward(sum / count.clamp_min(1.0).unsqueeze(1));  // mean over each network's weights
}

// ---- StatNN -------------------------------------------------------------------------------------------------

StatNNImpl::StatNNImpl(int64_t max_tensors, int64_t hidden, int64_t layers, int64_t dim)
    : max_tensors_(max_tensors), dim_(dim) {
  if (max_tensors < 1) throw std::invalid_argument("statnn baseline: max_tensors must be >= 1");
  net_ = register_module("net", mlp(max_tensors * kStats, hidden, layers, dim));
}

torch::Tensor StatNNImpl::features(const encoder::EncoderInput& in) const {
  torch::NoGradGuard no_grad;
  const auto& ch = in.chunks;
  const auto owner = tensor_network_list(in);
  const auto num_tensors = static_cast<int64_t>(owner.size());
  // Where each tensor's statistics go: [network, rank of the tensor within its network].
  std::vector<int64_t> slot(owner.size());
  std::vector<int64_t> seen(static_cast<std::size_t>(in.num_networks), 0);
  for (std::size_t t = 0; t < owner.size(); ++t) {
    const int64_t rank = seen[static_cast<std::size_t>(owner[t])]++;
    if (rank >= max_tensors_)
      throw std::invalid_argument("the statnn baseline reads networks of at most " + std::to_string(max_tensors_) +
                                  " parameter tensors; network " + std::to_string(owner[t]) +
                                  " of the batch has more");
    slot[t] = owner[t] * max_tensors_ + rank;
  }
  // Each tensor's values as one padded row, NaN where there is no element.
  auto [v, m] = encoder::pack_groups(ch.values, ch.first_chunk);                  // [T, Q, c]
  auto [mask, unused] = encoder::pack_groups(ch.mask.to(v.dtype()), ch.first_chunk);
  v = v.reshape({num_tensors, -1});
  mask = mask.reshape({num_tensors, -1});
  const torch::Tensor count = mask.sum(1).clamp_min(1.0);
  const torch::Tensor mean = (v * mask).sum(1) / count;
  const torch::Tensor var = ((v - mean.unsqueeze(1)).pow(2) * mask).sum(1) / count;
  const torch::Tensor q = torch::tensor({0.0, 0.25, 0.5, 0.75, 1.0}, v.options());
  const torch::Tensor quantiles = torch::nanquantile(v.masked_fill(mask == 0, NAN), q, 1).t();  // [T, 5]
  const torch::Tensor stats = torch::nan_to_num(torch::cat({mean.unsqueeze(1), var.unsqueeze(1), quantiles}, 1), 0.0);
  const torch::Tensor index = torch::tensor(slot, torch::kLong).to(v.device());
  return torch::zeros({in.num_networks * max_tensors_, kStats}, v.options())
      .index_copy(0, index, stats)
      .view({in.num_networks, max_tensors_ * kStats});
}

torch::Tensor StatNNImpl::forward(const encoder::EncoderInput& in) { return net_->forward(features(in)); }

}  // namespace sne::baselines
