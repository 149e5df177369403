#pragma once
// The SNE encoder (SNE paper eqs. 6-9): chunk -> tensor -> layer -> network, each stage a set-to-set map
// followed by a set-to-vector map, with layer-type and depth-level positional encodings. One encoder reads
// networks of any architecture; a batch may mix architectures.
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <array>
#include <string>

#include "encoder/encoder_input.h"
#include "encoder/fused/chunk_kernel.h"
#include "encoder/set_blocks.h"
#include "encoder/weight_encoder.h"

namespace sne::encoder {

struct EncoderOptions {
  SetBlockOptions blocks;               ///< width (dim = h), heads, pre/post-LN, PMA variant
  int64_t chunk_size = 32;              ///< c of pad-chunk (the memory knob; results are flat in c per the paper)
  std::string value_embedding = "fourier";  ///< "fourier": [v, sin(2^k v), cos(2^k v)] -> linear; "linear": v -> linear
  int64_t fourier_bands = 4;
  bool level_encoding = true;           ///< ablation switch: depth-level positional encoding
  double position_scale = 1.0;          ///< the sinusoidal type and level encodings are multiplied by this
  bool type_encoding = true;            ///< ablation switch: layer-type positional encoding
  bool element_positions = false;       ///< (ours) each weight also gets its place in its tensor (output index,
                                        ///< input index, kernel offset), so that a chunk is no longer blind to
                                        ///< which input a weight reads (SNE's over-invariance, sne-method.md 10);
                                        ///< stage 1 then runs on the composition, not the fused kernel
  bool role_encoding = true;            ///< (ours) tells a layer's weight from its bias before they merge
  bool set_functions = true;            ///< ablation switch: false replaces every set-to-set map by the identity
  bool hierarchy = true;                ///< ablation switch: false pools all chunks of a network at once
  bool fused_kernels = true;            ///< CPU + pre-LN + set functions: stage 1 by the hand-written kernel
  int64_t chunk_budget = 0;             ///< bound on the chunks whose activations are held at once (0 = none): stage 1
                                        ///< of the composition in slices, stage 2 in groups of whole tensors (padded),
                                        ///< each recomputed in backward; the fused stage 1 bounds itself by tiles
};

class SNEEncoderImpl : public WeightEncoderImpl {
 public:
  /// Frequencies of the sinusoidal features of each element-position axis (element_positions).
  static constexpr int64_t kElementBands = 8;
  explicit SNEEncoderImpl(const EncoderOptions& o);
  /// Returns z: [num_networks, dim].
  torch::Tensor forward(const EncoderInput& in) override;
  int64_t dim() const override { return o_.blocks.dim; }
  /// Stage 1 alone: one vector per chunk, [total_chunks, dim] (for tests and analysis).
  torch::Tensor chunk_vectors(const EncoderInput& in);
  const EncoderOptions& options() const { return o_; }
  bool recomputes_in_backward() const override { return recomputed_; }
  /// Without element positions a chunk is a set and a tensor a set of chunks: invariant to the spec's
  /// symmetries whenever they map chunks onto chunks at this chunk size (symmetries_preserve_chunks).
  bool invariant_to(const zoo::ArchitectureSpec& spec) const override;

 private:
  torch::Tensor embed_values(const torch::Tensor& values);  // [S, c] -> [S, c, d]
  /// Sinusoidal features (kElementBands frequencies) of each element's output index, input index and kernel
  /// offset, mapped to the width by a learned linear map: [n] owners and chunk starts -> [n, c, d].
  torch::Tensor element_encoding(const torch::Tensor& owner, const torch::Tensor& start, const torch::Tensor& fan);
  /// The sinusoidal encoding of `positions` times position_scale: [M] -> [M, dim].
  torch::Tensor position_encoding(const torch::Tensor& positions) const;
  /// Stage 1 for a slice of chunks: [n, c] values -> [n, d]; the positional tensors are per tensor of the batch.
  /// `start` are the chunks' first element indices in their tensors and `fan` the batch's tensor_fan (both used
  /// with element_positions only).
  torch::Tensor encode_chunks(const torch::Tensor& values, const torch::Tensor& mask, const torch::Tensor& owner,
                              const torch::Tensor& start, const torch::Tensor& fan, const torch::Tensor& type_pe,
                              const torch::Tensor& level_pe);
  friend struct RecomputedChunks;
  friend struct RecomputedTensors;
  /// Stage 2 for tensors whose chunks are rows [starts[t], starts[t+1]) of chunk_vec: [T, d] before the role
  /// encoding; level_pe [T, d] or empty.
  torch::Tensor encode_tensors(const torch::Tensor& chunk_vec, const std::vector<int64_t>& starts,
                               const torch::Tensor& level_pe);
  /// Whether stage 1 runs on the hand-written kernel for chunks on `device`.
  bool fused_stage1(const torch::Device& device) const;
  /// The chunk stage's parameters in the kernel's order (fused/chunk_kernel.h).
  std::vector<torch::Tensor> chunk_stage_parameters() const;
  torch::Tensor reference_stage1(const EncoderInput& in, const torch::Tensor& type_pe, const torch::Tensor& level_pe);
  /// Stages 2-4 from the chunk vectors [total_chunks, d].
  torch::Tensor encode_above_chunks(const EncoderInput& in, const torch::Tensor& chunk_vec, const torch::Tensor& level_pe);
  torch::Tensor phi(std::vector<SAB>& blocks, torch::Tensor x, const torch::Tensor& mask);
  bool recomputed_ = false;  ///< the last forward pass used RecomputedChunks or RecomputedTensors

  EncoderOptions o_;
  kernels::ChunkStageShape kernel_shape_;
  torch::nn::Linear value_proj_{nullptr};
  torch::nn::Embedding role_emb_{nullptr};
  torch::nn::Linear element_proj_{nullptr};  ///< with element_positions: [3 axes x 2 x kElementBands] -> d, no bias
  std::vector<SAB> phi1_, phi2_, phi3_, merge_, phi4_;
  PMA gamma_chunk_{nullptr}, gamma_tensor_{nullptr}, gamma_layer_{nullptr}, gamma_net_{nullptr};
};
TORCH_MODULE(SNEEncoder);

/// Each element's place in its tensor, for chunks of `chunk_size` elements: {output index, input index, kernel
/// offset}, each [n, chunk_size] int64, from the chunks' owners and starts [n] and the batch's tensor_fan [T, 2]
/// (EncoderInput). Padded elements get the places after their tensor's end.
std::array<torch::Tensor, 3> element_indices(const torch::Tensor& owner, const torch::Tensor& start,
                                             const torch::Tensor& fan, int64_t chunk_size);

/// Sinusoidal encoding of integer positions (Vaswani et al.): [M] int64 -> [M, dim].
torch::Tensor sinusoid(const torch::Tensor& positions, int64_t dim);

/// Rows grouped contiguously (group g owns rows [starts[g], starts[g+1])) as a padded batch of sets:
/// returns {[G, max_len, d], mask [G, max_len]}.
std::pair<torch::Tensor, torch::Tensor> pack_groups(const torch::Tensor& rows, const std::vector<int64_t>& starts);

}  // namespace sne::encoder
