#pragma once
// Multi-head attention softmax(Q K^T / sqrt(hd)) V over many small masked sets, forward and backward, as
// hand-written CPU loops. It is the fast path of AttentionImpl (set_blocks.cpp) for the tensor, layer and network
// stages, whose sets are many and small (a few to a few hundred elements, head width 8 to 32): there LibTorch's
// batched matrix product loops over the sets one `select` at a time and dominated the training step.
//
// One work item is one (set, head). Its keys and values are gathered transposed into a per-thread buffer (head
// width x set length, a few KiB) and every query row is processed on its own: scores, masked softmax and output
// in one pass over the keys. Backward recomputes each row's weights, bit for bit, from the row's saved maximum
// and normaliser (as flash attention does from its log-sum-exp), so no [sets, heads, Lq, Lk] weights are held: memory is bounded by the buffers of one
// item per thread, whatever the set length. Threads split items.
//
// No LibTorch types here: row-major float arrays; head h of a row is its columns [h * hd, (h + 1) * hd).
#include <cstdint>

namespace sne::encoder::kernels {

struct AttentionShape {
  int64_t sets = 0;     ///< B
  int64_t heads = 0;    ///< H
  int64_t queries = 0;  ///< Lq
  int64_t keys = 0;     ///< Lk
  int64_t dim = 0;      ///< d = H * hd, the row width of q, k, v and out
};

/// out [B, Lq, d] = attention of q [B, Lq, d] over k, v [B, Lk, d]. key_mask [B, Lk] (1 = real; null = all real).
/// A set with no real key gets zero output rows. stats [B, H, Lq, 2] receives each row's maximum score and
/// 1 / sum of its exponentials, for backward.
void attention_forward(const AttentionShape& s, const float* q, const float* k, const float* v,
                       const uint8_t* key_mask, float* out, float* stats);

/// The gradients of attention_forward: gq [B, Lq, d], gk, gv [B, Lk, d] (overwritten) from gout [B, Lq, d],
/// given the forward's inputs and its stats.
void attention_backward(const AttentionShape& s, const float* q, const float* k, const float* v,
                        const uint8_t* key_mask, const float* stats, const float* gout, float* gq, float* gk,
                        float* gv);

}  // namespace sne::encoder::kernels
