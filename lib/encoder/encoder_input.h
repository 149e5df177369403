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
  /// [T, 2] int64: how a flat element index e of the tensor splits into (output, input, kernel offset):
  /// column 0 the size of axis 1 (the inputs; 1 for a vector), column 1 the product of the axes after it (the
  /// kernel; 1 for a matrix). Then kernel = e % col1, input = (e / col1) % col0, output = e / (col0 * col1).
  at::Tensor tensor_fan;
  std::vector<int64_t> tensor_layer;    ///< [T]: global index of the tensor's layer
  std::vector<int64_t> layer_network;   ///< [L]: network index of each layer
  at::Tensor layer_level;               ///< [L] int64
  int64_t num_networks = 0;
};

/// Packs batches for the encoder. What depends only on an architecture (its tensors' chunk counts, levels,
/// types and roles) is computed once per architecture and reused for every batch; a batch is then one copy of
/// its weights into the padded chunk block.
class BatchPacker {
 public:
  explicit BatchPacker(int64_t chunk_size);
  /// `params[i]` holds archs[i]->num_params() floats (already normalised). Tensors are placed on `device`.
  EncoderInput pack(const std::vector<const zoo::ArchitectureSpec*>& archs, const std::vector<const float*>& params,
                    at::Device device);
  int64_t chunk_size() const { return c_; }

 private:
  struct Layout {
    std::vector<int64_t> offset, numel, chunks, level, type, role, layer, fan_in, kernel;  // per tensor (layer: index in the spec)
    std::vector<int64_t> layer_level;                                      // per layer
    int64_t total_chunks = 0;
  };
  const Layout& layout(const zoo::ArchitectureSpec& spec);
  int64_t c_;
  std::vector<std::pair<const zoo::ArchitectureSpec*, Layout>> layouts_;  // few architectures: a short list
};

/// Packs networks for the encoder once (a BatchPacker without reuse). `params[i]` holds archs[i]->num_params()
/// floats (already normalised); `chunk_size` is the c of pad-chunk. Tensors are placed on `device`.
EncoderInput build_input(const std::vector<const zoo::ArchitectureSpec*>& archs,
                         const std::vector<const float*>& params, int64_t chunk_size, at::Device device);

/// TensorRole from a spec's role text ("weight", "bias", anything else).
TensorRole role_of(const std::string& role);

}  // namespace sne::encoder
