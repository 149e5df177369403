#pragma once
// The arithmetic under the chunk-stage kernel (chunk_kernel.cpp): row-major linear layers on the process's BLAS,
// branch-free exp/erf/GELU, LayerNorm forward and backward, and the vector blocks of the attention products.
// Everything is inline so that each instruction-set clone of the per-tile functions compiles its own copy.
// Internal to lib/encoder/fused.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/blas.h"
#include "encoder/fused/chunk_kernel.h"

// Every helper is inlined into the per-tile functions, which are compiled once per instruction set and chosen
// at load time (the build targets baseline x86-64; the loops below vectorise 4x wider with AVX-512).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SNE_KERNEL __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SNE_KERNEL
#endif
#define SNE_INLINE inline __attribute__((always_inline))

namespace sne::encoder::kernels::detail {


// ---- matrix products: the process's BLAS (core/blas.h) ----
using sne::blas::blas_sgemm;
using sne::blas::gemm;

// Row-major linear layers, PyTorch layout W [out, in].
inline void linear_forward(const LinearParams& L, const float* x, int64_t rows, float* y) {  // y = x W^T + b
  for (int64_t r = 0; r < rows; ++r) std::memcpy(y + r * L.out, L.b, sizeof(float) * static_cast<std::size_t>(L.out));
  if (L.wt) gemm('N', 'N', L.out, rows, L.in, L.wt, L.out, x, L.in, 1.0f, y, L.out);
  else gemm('T', 'N', L.out, rows, L.in, L.w, L.in, x, L.in, 1.0f, y, L.out);
}
inline void linear_backward_input(const LinearParams& L, const float* gy, int64_t rows, float* gx, bool accumulate) {
  gemm('N', 'N', L.in, rows, L.out, L.w, L.in, gy, L.out, accumulate ? 1.0f : 0.0f, gx, L.in);  // gx (+)= gy W
}
inline void linear_backward_params(const LinearParams& L, const LinearParams& G, const float* x, const float* gy,
                            int64_t rows) {  // gW += gy^T x, gb += sum of gy's rows
  gemm('N', 'T', L.in, L.out, rows, x, L.in, gy, L.out, 1.0f, G.w, L.in);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < L.out; ++j) G.b[j] += gy[r * L.out + j];
}

// ---- elementwise pieces, written to vectorise ----
constexpr float kLnEps = 1e-5f;  // torch::nn::LayerNorm's default

/// exp for x <= 88 (Cephes' single-precision polynomial, about 1 ulp), branch-free so loops vectorise.
SNE_INLINE float exp_approx(float x) {
  x = std::min(std::max(x, -87.33654f), 88.37626f);
  const float fx = x * 1.44269504088896341f + 0.5f;
  int32_t n = static_cast<int32_t>(fx);
  n -= static_cast<int32_t>(static_cast<float>(n) > fx);  // floor
  const float fn = static_cast<float>(n);
  const float r = x - fn * 0.693359375f + fn * 2.12194440e-4f;
  const float z = r * r;
  const float y = (((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
                    1.6666665459e-1f) * r + 5.0000001201e-1f) * z + r + 1.0f;
  const int32_t bits = (n + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

/// erf by Abramowitz-Stegun 7.1.26 (absolute error <= 1.5e-7): the formula of ATen's vectorised erf, given
/// e = exp(-x^2) (which the GELU's gradient shares).
SNE_INLINE float erf_given_exp(float x, float e) {
  const float ax = std::fabs(x);
  const float t = 1.0f / (0.3275911f * ax + 1.0f);
  const float r = (((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f;
  const float y = 1.0f - r * t * e;
  return x < 0 ? -y : y;
}

constexpr float kSqrtHalf = 0.70710678118654752f, kInvSqrt2Pi = 0.39894228040143268f;
SNE_INLINE float gelu(float x) {
  const float z = x * kSqrtHalf;
  return x * 0.5f * (1.0f + erf_given_exp(z, exp_approx(-z * z)));
}
/// d gelu / dx = Phi(x) + x phi(x): one exponential, exp(-x^2 / 2), serves both.
SNE_INLINE float gelu_grad(float x) {
  const float z = x * kSqrtHalf, e = exp_approx(-z * z);
  return 0.5f * (1.0f + erf_given_exp(z, e)) + x * kInvSqrt2Pi * e;
}

SNE_INLINE void layer_norm(const NormParams& P, const float* x, int64_t rows, int64_t d, float* y, float* xhat,
                           float* rstd) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    float mean = 0;
    for (int64_t j = 0; j < d; ++j) mean += xr[j];
    mean /= static_cast<float>(d);
    float var = 0;
    for (int64_t j = 0; j < d; ++j) var += (xr[j] - mean) * (xr[j] - mean);
    const float rs = 1.0f / std::sqrt(var / static_cast<float>(d) + kLnEps);
    rstd[r] = rs;
    for (int64_t j = 0; j < d; ++j) {
      const float h = (xr[j] - mean) * rs;
      xhat[r * d + j] = h;
      y[r * d + j] = h * P.g[j] + P.b[j];
    }
  }
}

/// gx (+)= LayerNorm backward of gy; the weight and bias gradients are added into G.
SNE_INLINE void layer_norm_backward(const NormParams& P, const NormParams& G, const float* __restrict gy,
                                    const float* __restrict xhat, const float* rstd, int64_t rows, int64_t d,
                                    float* gx, bool accumulate, float* __restrict tmp) {
  const float* __restrict w = P.g;
  float* __restrict gw = G.g;
  float* __restrict gb = G.b;
  for (int64_t r = 0; r < rows; ++r) {
    const float* __restrict g = gy + r * d;
    const float* __restrict h = xhat + r * d;
    float m1 = 0, m2 = 0;
    for (int64_t j = 0; j < d; ++j) {
      const float gh = g[j] * w[j];
      tmp[j] = gh;
      m1 += gh;
      m2 += gh * h[j];
      gw[j] += g[j] * h[j];
      gb[j] += g[j];
    }
    m1 /= static_cast<float>(d);
    m2 /= static_cast<float>(d);
    float* o = gx + r * d;
    for (int64_t j = 0; j < d; ++j) {
      const float v = rstd[r] * (tmp[j] - m1 - h[j] * m2);
      o[j] = accumulate ? o[j] + v : v;
    }
  }
}

constexpr int64_t kLanes = 16;
SNE_INLINE int64_t padded(int64_t n) { return (n + kLanes - 1) / kLanes * kLanes; }
// A block of kLanes floats (one AVX-512 register; two AVX2 or four SSE registers in the other clones).
typedef float Block __attribute__((vector_size(kLanes * sizeof(float))));
SNE_INLINE Block load(const float* p) {
  Block b;
  std::memcpy(&b, p, sizeof b);
  return b;
}
SNE_INLINE void store(float* p, const Block& b) { std::memcpy(p, &b, sizeof b); }

/// C[j][i] = sum_e A[j * lda + e] X[e][i] for j < n, e < hd, i < np (rows of C and X np apart). Four rows j at a
/// time share each load of X: four independent FMA chains instead of one latency-bound chain.
SNE_INLINE void rows_times(const float* a, int64_t lda, const float* x, int64_t hd, int64_t n, int64_t np, float* c) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const float *a0 = a + j * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
    for (int64_t i0 = 0; i0 < np; i0 += kLanes) {
      Block c0 = {}, c1 = {}, c2 = {}, c3 = {};
      for (int64_t e = 0; e < hd; ++e) {
        const Block xv = load(x + e * np + i0);
        c0 += a0[e] * xv, c1 += a1[e] * xv, c2 += a2[e] * xv, c3 += a3[e] * xv;
      }
      store(c + j * np + i0, c0), store(c + (j + 1) * np + i0, c1);
      store(c + (j + 2) * np + i0, c2), store(c + (j + 3) * np + i0, c3);
    }
  }
  for (; j < n; ++j)
    for (int64_t i0 = 0; i0 < np; i0 += kLanes) {
      Block acc = {};
      for (int64_t e = 0; e < hd; ++e) acc += a[j * lda + e] * load(x + e * np + i0);
      store(c + j * np + i0, acc);
    }
}

}  // namespace sne::encoder::kernels::detail
