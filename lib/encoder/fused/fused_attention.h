#pragma once
// LibTorch's side of the hand-written attention kernel (attention_kernel.h): an autograd function over the
// projected queries, keys and values of AttentionImpl.
#include <ATen/ATen.h>

namespace sne::encoder {

/// softmax(Q K^T / sqrt(hd)) V per head for q [B, Lq, d], k, v [B, Lk, d] (float32, CPU; head h is columns
/// [h hd, (h + 1) hd)); key_mask [B, Lk] bool (true = real) or undefined. A set without real keys gets zeros.
/// Returns [B, Lq, d], the heads side by side; differentiable in q, k and v. Holds no [B, H, Lq, Lk] weights.
at::Tensor fused_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& key_mask,
                           int64_t heads);

}  // namespace sne::encoder
