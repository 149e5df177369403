#pragma once
// The chunk stage of SNE (stage 1: value embedding -> 2 SAB -> + type/level encodings -> 2 SAB -> PMA) as one
// hand-written CPU kernel, forward and backward, for the pre-LN blocks. It is the fast path of
// SNEEncoderImpl::encode_chunks (the LibTorch composition there stays the reference; tests hold them equal).
//
// Why it is faster than the composition: a chunk is a set of at most c (<= 64) elements of width d (<= 128),
// so LibTorch spends its time on per-op dispatch, tiny batched matrix products, temporaries of the whole batch
// and page faults. Here chunks are processed in tiles of a few hundred rows; each tile's activations live in
// per-thread buffers that are reused across calls (no allocation in the steady state), linear layers are one
// BLAS call per tile, attention, softmax, LayerNorm and GELU are fused loops, padded elements are skipped
// (they never reach a real element in the reference either), and threads split tiles, not ops.
// Backward recomputes each tile's forward (activation checkpointing by tile), so training memory is bounded by
// the tile size whatever the batch.
//
// No LibTorch types here: plain float arrays in row-major order, parameters in PyTorch's layouts.
#include <cstdint>
#include <vector>

namespace sne::encoder::kernels {

struct LinearParams {
  float* w = nullptr;  ///< [out, in]
  float* b = nullptr;  ///< [out]
  int64_t out = 0, in = 0;
  const float* wt = nullptr;  ///< [in, out], w transposed (set by the kernel: its forward products are then the
                              ///< BLAS's untransposed small-matrix case), or null
};
struct NormParams {
  float* g = nullptr;  ///< [d] LayerNorm weight
  float* b = nullptr;  ///< [d] LayerNorm bias
};
struct SabParams {
  NormParams ln1, ln2;
  LinearParams q, k, v, o, ff1, ff2;
};
struct PmaParams {
  float* seed = nullptr;  ///< [d]
  NormParams ln_q, ln_kv, ln2;
  LinearParams q, k, v, o, ff1, ff2;
};

/// Shapes and switches of the chunk stage (the pre-LN reading only).
struct ChunkStageShape {
  int64_t dim = 32, heads = 4, ff = 64;  ///< d, attention heads, feed-forward width
  int64_t fourier_bands = 4;
  bool fourier = true;                   ///< value embedding: [v, sin(2^k v), cos(2^k v)] (else v alone)
  bool seed_residual = true;             ///< PMA output = seed + attention
  int64_t value_features() const { return fourier ? 1 + 2 * fourier_bands : 1; }
};

/// Pointers to every parameter of the chunk stage (or to buffers of the same shapes for their gradients).
struct ChunkStageParams {
  LinearParams value;
  SabParams sab[4];  ///< phi1 (2 blocks), then phi2 (2 blocks)
  PmaParams pma;
};

/// The number of floats of each parameter tensor, in the order `bind` consumes them.
std::vector<int64_t> parameter_sizes(const ChunkStageShape& s);
/// Params pointing into `ptrs` (one pointer per tensor, in the order of parameter_sizes).
ChunkStageParams bind(const ChunkStageShape& s, const std::vector<float*>& ptrs);
/// The inverse of bind: one pointer per tensor, in parameter order.
std::vector<float*> pointers_of(const ChunkStageParams& p);

/// The chunks to encode: real elements are a prefix of each chunk (pad-chunk pads at the end).
struct ChunkSet {
  const float* values = nullptr;   ///< [count, c]
  const int32_t* lengths = nullptr;///< [count] real elements per chunk, 1..c
  const float* encoding = nullptr; ///< [count, d] added after phi1 (type + level encodings), or null
  int64_t count = 0, c = 0;
};

/// Stage 1 forward: out [count, d].
void chunk_stage_forward(const ChunkStageShape& s, const ChunkStageParams& p, const ChunkSet& chunks, float* out);

/// Stage 1 backward from grad_out [count, d]: the gradient of every parameter is ADDED into `grads`
/// (same layout as the parameters). Recomputes the forward tile by tile.
void chunk_stage_backward(const ChunkStageShape& s, const ChunkStageParams& p, const ChunkSet& chunks,
                          const float* grad_out, const ChunkStageParams& grads);

/// True when a BLAS sgemm was found in the process (else a plain loop multiplies: correct, slower).
bool has_blas();

}  // namespace sne::encoder::kernels
