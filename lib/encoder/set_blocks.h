#pragma once
// Set Transformer blocks (Lee et al. 2019) that honour padding masks: multi-head attention, SAB (set -> set,
// permutation equivariant) and PMA with one seed (set -> vector, permutation invariant). Pre-LN by default
// (normalise the inputs of attention and feed-forward, keep the residual stream unnormalised): the post-LN
// reading of the paper collapses every network to the same code at init (docs: sne-method.md section 9).
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <vector>

namespace sne::encoder {

struct SetBlockOptions {
  int64_t dim = 32;
  int64_t heads = 4;
  int64_t ff_mult = 2;          ///< width of the feed-forward layer, in multiples of dim
  bool pre_ln = true;           ///< false: the post-LN blocks of the Set Transformer paper
  bool pma_seed_residual = true;///< PMA output = seed + attention (paper); false: attention only
  bool fused_attention = false; ///< float32 on the CPU: attention by the hand-written kernel (fused/attention_kernel.h)
};

/// Attention (the LibTorch composition) whose [B, heads, Lq, Lk] weights exceed this many floats (default 2^24,
/// 64 MiB) runs in slices of queries and recomputes each slice's weights in backward. The hand-written kernel holds
/// no weights at all. Returns the previous limit (tests lower it).
int64_t set_max_attention_scores(int64_t n);

/// Multi-head attention of queries over a masked set of keys/values.
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t dim, int64_t heads, bool fused = false);
  /// q: [B, Lq, d]; kv: [B, Lk, d]; key_mask: [B, Lk] bool, true = real (undefined = all real).
  /// A query whose keys are all padding gets a zero output. Returns [B, Lq, d].
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& kv, const torch::Tensor& key_mask);
  /// wq, bq, wk, bk, wv, bv, wo, bo: the order of the hand-written kernels (fused/chunk_kernel.h).
  std::vector<torch::Tensor> kernel_parameters() const;

 private:
  int64_t heads_;
  bool fused_;
  torch::nn::Linear wq_{nullptr}, wk_{nullptr}, wv_{nullptr}, wo_{nullptr};
};
TORCH_MODULE(Attention);

/// SAB(X) = MAB(X, X). Equivariant to permutations of the set; padded rows come out as zeros.
class SABImpl : public torch::nn::Module {
 public:
  explicit SABImpl(const SetBlockOptions& o);
  /// x: [B, L, d]; mask: [B, L] bool (undefined = all real). Returns [B, L, d].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);
  /// ln1, ln2 (weight, bias), then q, k, v, o, ff1, ff2 (weight, bias): the kernels' order.
  std::vector<torch::Tensor> kernel_parameters() const;

 private:
  SetBlockOptions o_;
  Attention att_{nullptr};
  torch::nn::LayerNorm ln1_{nullptr}, ln2_{nullptr};
  torch::nn::Linear ff1_{nullptr}, ff2_{nullptr};
};
TORCH_MODULE(SAB);

/// PMA with one learned seed: a vector from a set, invariant to the set's order, blind to padding.
class PMAImpl : public torch::nn::Module {
 public:
  explicit PMAImpl(const SetBlockOptions& o);
  /// x: [B, L, d]; mask: [B, L] bool. Returns [B, d].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);
  /// seed, ln_q, ln_kv, ln2 (weight, bias), then q, k, v, o, ff1, ff2 (weight, bias): the kernels' order.
  std::vector<torch::Tensor> kernel_parameters() const;

 private:
  SetBlockOptions o_;
  torch::Tensor seed_;
  Attention att_{nullptr};
  torch::nn::LayerNorm ln_q_{nullptr}, ln_kv_{nullptr}, ln2_{nullptr};
  torch::nn::Linear ff1_{nullptr}, ff2_{nullptr};
};
TORCH_MODULE(PMA);

}  // namespace sne::encoder
