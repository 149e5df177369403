#include "encoder/encoder_input.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace sne::encoder {

TensorRole role_of(const std::string& role) {
  if (role == "weight") return TensorRole::weight;
  if (role == "bias") return TensorRole::bias;
  return TensorRole::other;
}

BatchPacker::BatchPacker(int64_t chunk_size) : c_(chunk_size) {
  if (c_ < 1) throw std::invalid_argument("chunk size must be >= 1, got " + std::to_string(c_));
}

const BatchPacker::Layout& BatchPacker::layout(const zoo::ArchitectureSpec& spec) {
  for (const auto& [s, l] : layouts_)
    if (s == &spec) return l;
  Layout l;
  for (std::size_t li = 0; li < spec.layers.size(); ++li) {
    const auto& layer = spec.layers[li];
    l.layer_level.push_back(layer.level);
    for (const auto& t : layer.tensors) {
      l.offset.push_back(t.offset);
      l.numel.push_back(t.numel());
      l.chunks.push_back((t.numel() + c_ - 1) / c_);
      l.level.push_back(layer.level);
      l.type.push_back(static_cast<int64_t>(layer.kind));
      l.role.push_back(static_cast<int64_t>(role_of(t.role)));
      l.layer.push_back(static_cast<int64_t>(li));
      int64_t kernel = 1;
      for (std::size_t a = 2; a < t.shape.size(); ++a) kernel *= t.shape[a];
      l.fan_in.push_back(t.shape.size() >= 2 ? t.shape[1] : 1);
      l.kernel.push_back(kernel);
      l.total_chunks += l.chunks.back();
    }
  }
  layouts_.emplace_back(&spec, std::move(l));
  return layouts_.back().second;
}

EncoderInput BatchPacker::pack(const std::vector<const zoo::ArchitectureSpec*>& archs,
                               const std::vector<const float*>& params, at::Device device) {
  if (archs.size() != params.size()) throw std::invalid_argument("BatchPacker: one architecture per network");
  EncoderInput in;
  in.num_networks = static_cast<int64_t>(archs.size());
  int64_t total = 0, tensors = 0;
  for (const auto* a : archs) {
    const Layout& l = layout(*a);
    total += l.total_chunks;
    tensors += static_cast<int64_t>(l.numel.size());
  }
  at::Tensor values = at::empty({total, c_}, at::kFloat), owner = at::empty({total}, at::kLong),
             lengths = at::empty({total}, at::kInt), start = at::empty({total}, at::kLong);
  at::Tensor t_level = at::empty({tensors}, at::kLong), t_type = at::empty({tensors}, at::kLong),
             t_role = at::empty({tensors}, at::kLong), t_fan = at::empty({tensors, 2}, at::kLong);
  float* v = values.data_ptr<float>();
  int64_t* own = owner.data_ptr<int64_t>();
  int32_t* len = lengths.data_ptr<int32_t>();
  int64_t *first = start.data_ptr<int64_t>(), *fan = t_fan.data_ptr<int64_t>();
  int64_t *lv = t_level.data_ptr<int64_t>(), *ty = t_type.data_ptr<int64_t>(), *ro = t_role.data_ptr<int64_t>();
  std::vector<int64_t> l_level;
  in.chunks.first_chunk.reserve(static_cast<std::size_t>(tensors) + 1);
  in.chunks.first_chunk.push_back(0);
  int64_t chunk = 0, tensor = 0;
  for (std::size_t n = 0; n < archs.size(); ++n) {
    const Layout& l = layout(*archs[n]);
    const auto first_layer = static_cast<int64_t>(in.layer_network.size());
    for (int64_t level : l.layer_level) {
      in.layer_network.push_back(static_cast<int64_t>(n));
      l_level.push_back(level);
    }
    for (std::size_t t = 0; t < l.numel.size(); ++t, ++tensor) {
      const int64_t numel = l.numel[t], q = l.chunks[t];
      float* dst = v + chunk * c_;
      std::memcpy(dst, params[n] + l.offset[t], sizeof(float) * static_cast<std::size_t>(numel));
      std::memset(dst + numel, 0, sizeof(float) * static_cast<std::size_t>(q * c_ - numel));  // padding
      for (int64_t k = 0; k < q; ++k) {
        own[chunk + k] = tensor;
        len[chunk + k] = static_cast<int32_t>(std::min(c_, numel - k * c_));
        first[chunk + k] = k * c_;
      }
      chunk += q;
      in.chunks.first_chunk.push_back(chunk);
      in.chunks.numel.push_back(numel);
      lv[tensor] = l.level[t], ty[tensor] = l.type[t], ro[tensor] = l.role[t];
      fan[2 * tensor] = l.fan_in[t], fan[2 * tensor + 1] = l.kernel[t];
      in.tensor_layer.push_back(first_layer + l.layer[t]);
    }
  }
  const auto put = [&](const at::Tensor& t) { return device.is_cpu() ? t : t.to(device, /*non_blocking=*/true); };
  in.chunks.values = put(values);
  in.chunks.owner = put(owner);
  in.chunks.lengths = put(lengths);
  in.chunks.start = put(start);
  // The mask follows from the lengths (real elements are a prefix of each chunk): made where it is used.
  in.chunks.mask = at::arange(c_, in.chunks.lengths.options().dtype(at::kInt)).unsqueeze(0) <
                   in.chunks.lengths.unsqueeze(1);
  in.tensor_level = put(t_level);
  in.tensor_type = put(t_type);
  in.tensor_role = put(t_role);
  in.tensor_fan = put(t_fan);
  in.layer_level = put(at::tensor(l_level, at::kLong));
  return in;
}

EncoderInput build_input(const std::vector<const zoo::ArchitectureSpec*>& archs,
                         const std::vector<const float*>& params, int64_t chunk_size, at::Device device) {
  return BatchPacker(chunk_size).pack(archs, params, device);
}

}  // namespace sne::encoder
