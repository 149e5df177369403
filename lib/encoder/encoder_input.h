#pragma once
// What the SNE encoder reads: the chunks of every parameter tensor of a batch of networks (of any
// architectures), with each tensor's layer type, depth level and role, and which layer / network owns what.
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "encoder/pad_chunk.h"
#include "zoo/architecture.h"

namespace sne::encoder {

enum class TensorRole : int64_t { weight = 0, bias = 1, other = 2 };

struct EncoderInput {
  Chunks chunks;                        ///< all tensors of all networks, in network, layer, tensor order
  at::Tensor tensor_level;              ///< [T] int64: depth level of the tensor's layer
  at::Tensor tensor_type;               ///< [T] int64: LayerKind id of the tensor's layer
  at::Tensor tensor_role;               ///< [T] int64: TensorRole
  std::vector<int64_t> tensor_layer;    ///< [T]: global index of the tensor's layer
  std::vector<int64_t> layer_network;   ///< [L]: network index of each layer
  at::Tensor layer_level;               ///< [L] int64
  int64_t num_networks = 0;
};

/// Packs networks for the encoder. `params[i]` holds archs[i]->num_params() floats (already normalised);
/// `chunk_size` is the c of pad-chunk. Tensors are placed on `device`.
EncoderInput build_input(const std::vector<const zoo::ArchitectureSpec*>& archs,
                         const std::vector<const float*>& params, int64_t chunk_size, at::Device device);

/// TensorRole from a spec's role text ("weight", "bias", anything else).
TensorRole role_of(const std::string& role);

}  // namespace sne::encoder
