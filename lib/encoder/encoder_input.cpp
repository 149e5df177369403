#include "encoder/encoder_input.h"

#include <stdexcept>

namespace sne::encoder {

TensorRole role_of(const std::string& role) {
  if (role == "weight") return TensorRole::weight;
  if (role == "bias") return TensorRole::bias;
  return TensorRole::other;
}

EncoderInput build_input(const std::vector<const zoo::ArchitectureSpec*>& archs,
                         const std::vector<const float*>& params, int64_t chunk_size, at::Device device) {
  if (archs.size() != params.size()) throw std::invalid_argument("build_input: one architecture per network");
  EncoderInput in;
  in.num_networks = static_cast<int64_t>(archs.size());
  std::vector<at::Tensor> flat;
  std::vector<int64_t> t_level, t_type, t_role, l_level;
  for (std::size_t n = 0; n < archs.size(); ++n) {
    for (const auto& layer : archs[n]->layers) {
      const auto layer_index = static_cast<int64_t>(in.layer_network.size());
      in.layer_network.push_back(static_cast<int64_t>(n));
      l_level.push_back(layer.level);
      for (const auto& t : layer.tensors) {
        // A view of the caller's floats; pad_chunk copies it into the packed block.
        flat.push_back(at::from_blob(const_cast<float*>(params[n] + t.offset), {t.numel()}, at::kFloat));
        t_level.push_back(layer.level);
        t_type.push_back(static_cast<int64_t>(layer.kind));
        t_role.push_back(static_cast<int64_t>(role_of(t.role)));
        in.tensor_layer.push_back(layer_index);
      }
    }
  }
  in.chunks = pad_chunk(flat, chunk_size);
  in.chunks.values = in.chunks.values.to(device);
  in.chunks.mask = in.chunks.mask.to(device);
  in.chunks.owner = in.chunks.owner.to(device);
  in.chunks.lengths = in.chunks.lengths.to(device);
  in.tensor_level = at::tensor(t_level, at::kLong).to(device);
  in.tensor_type = at::tensor(t_type, at::kLong).to(device);
  in.tensor_role = at::tensor(t_role, at::kLong).to(device);
  in.layer_level = at::tensor(l_level, at::kLong).to(device);
  return in;
}

}  // namespace sne::encoder
