#include "generators/siren_kernel.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "core/blas.h"

// The elementwise loops are compiled once per instruction set and chosen at load time (the build targets
// baseline x86-64; sincos and Adam vectorise 4x wider with AVX-512).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SNE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SNE_CLONES
#endif

namespace sne::generators::kernels {
namespace {
using blas::gemm;

constexpr int64_t kBlock = 256;  // points per block: the block's activations (6 x 256 x h floats) stay in L2

/// The floats of one block's activations and the INR's scaled weights, carved from the workspace.
struct Buffers {
  float *a0, *s0, *c0, *s1, *c1, *ga1;  // [kBlock, h] each; a0 is reused for dL/d(s0)
  float *w0s, *b0s, *w1s, *w1st, *b1s;  // w0 * W0, w0 * b0, w0 * W1 [j][k], its transpose [k][j], w0 * b1
  float *gw0, *gb0, *gw1, *gb1, *gw2;   // gradients with respect to the scaled weights
  Buffers(const SirenShape& s, float* w) {
    const int64_t h = s.hidden, blk = kBlock * h;
    a0 = w, s0 = a0 + blk, c0 = s0 + blk, s1 = c0 + blk, c1 = s1 + blk, ga1 = c1 + blk;
    w0s = ga1 + blk, b0s = w0s + h, w1s = b0s + h, w1st = w1s + h * h, b1s = w1st + h * h;
    gw0 = b1s + h, gb0 = gw0 + h, gw1 = gb0 + h, gb1 = gw1 + h * h, gw2 = gb1 + h;
  }
  static std::size_t floats(const SirenShape& s) {
    const auto h = static_cast<std::size_t>(s.hidden);
    return 6 * static_cast<std::size_t>(kBlock) * h + 4 * h * h + 8 * h;
  }
};

// Per-point pieces of the pass, each a loop the compiler vectorises across the hidden units.
SNE_CLONES void first_layer(const float* x, int64_t n, int64_t h, const float* w0s, const float* b0s, float* a0) {
  for (int64_t p = 0; p < n; ++p)
    for (int64_t j = 0; j < h; ++j) a0[p * h + j] = w0s[j] * x[p] + b0s[j];
}

SNE_CLONES void bias_rows(int64_t n, int64_t h, const float* b, float* y) {
  for (int64_t p = 0; p < n; ++p)
    for (int64_t j = 0; j < h; ++j) y[p * h + j] = b[j];
}

/// Output, residual, loss and the gradient into the last layer and the second pre-activation. Returns the sum
/// of squared residuals of the block.
SNE_CLONES double output_and_back(const SirenShape& s, int64_t n, const float* w2, float c2, const float* target,
                                  const float* s1, const float* c1, float* gw2, float* gb2, float* gb1s, float* ga1) {
  const int64_t h = s.hidden;
  const float scale = 2.0f / static_cast<float>(s.points);
  double sq = 0.0;
  for (int64_t p = 0; p < n; ++p) {
    const float* row = s1 + p * h;
    float out = c2;
    for (int64_t j = 0; j < h; ++j) out += w2[j] * row[j];
    const float r = out - target[p];
    sq += static_cast<double>(r) * r;
    const float g = r * scale;  // d(mean r^2) / d out
    *gb2 += g;
    for (int64_t j = 0; j < h; ++j) {
      gw2[j] += g * row[j];
      const float ga = g * w2[j] * c1[p * h + j];
      ga1[p * h + j] = ga;
      gb1s[j] += ga;
    }
  }
  return sq;
}

SNE_CLONES void first_layer_back(const float* x, int64_t n, int64_t h, const float* gs0, const float* c0, float* gw0,
                                 float* gb0) {
  for (int64_t p = 0; p < n; ++p)
    for (int64_t j = 0; j < h; ++j) {
      const float ga = gs0[p * h + j] * c0[p * h + j];
      gw0[j] += ga * x[p];
      gb0[j] += ga;
    }
}

}  // namespace

SNE_CLONES void sincos_approx(const float* x, int64_t n, float* s, float* c) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    // q = round(v * 2/pi) by the 1.5 * 2^23 trick (exact for |v| < 2^22 pi/2); r = v - q pi/2 in three parts.
    const float q = (v * 0.636619772367581343f + 12582912.0f) - 12582912.0f;
    const auto qi = static_cast<int32_t>(q);
    float r = v - q * 1.5703125f;
    r -= q * 4.837512969970703125e-4f;
    r -= q * 7.54978995489188216e-8f;
    const float r2 = r * r;
    const float sr = r + r * r2 * (-1.6666654611e-1f + r2 * (8.3321608736e-3f + r2 * -1.9515295891e-4f));
    const float cr = 1.0f - 0.5f * r2 +
                     r2 * r2 * (4.166664568298827e-2f + r2 * (-1.388731625493765e-3f + r2 * 2.443315711809948e-5f));
    // v = r + q pi/2: quadrant q mod 4 swaps sin and cos (odd q) and sets their signs.
    const bool odd = (qi & 1) != 0;
    const float ss = odd ? cr : sr, cc = odd ? sr : cr;
    s[i] = (qi & 2) != 0 ? -ss : ss;
    c[i] = ((qi + 1) & 2) != 0 ? -cc : cc;
  }
}

std::size_t siren_workspace_floats(const SirenShape& s) { return Buffers::floats(s); }

double siren_loss_and_grad(const SirenShape& s, const float* x, const float* target, const float* params,
                           float* grad, float* work) {
  const int64_t h = s.hidden;
  const float w0 = s.w0;
  const float *W0 = params, *b0 = W0 + h, *W1 = b0 + h, *b1 = W1 + h * h, *W2 = b1 + h;
  const float c2 = W2[h] + s.output_offset;
  Buffers B(s, work);
  for (int64_t j = 0; j < h; ++j) B.w0s[j] = w0 * W0[j], B.b0s[j] = w0 * b0[j], B.b1s[j] = w0 * b1[j];
  for (int64_t j = 0; j < h; ++j)
    for (int64_t k = 0; k < h; ++k) B.w1st[k * h + j] = B.w1s[j * h + k] = w0 * W1[j * h + k];
  std::memset(B.gw0, 0, sizeof(float) * static_cast<std::size_t>(4 * h + h * h));  // gw0, gb0, gw1, gb1, gw2
  float gb2 = 0.0f;
  double sq = 0.0;
  for (int64_t p0 = 0; p0 < s.points; p0 += kBlock) {
    const int64_t n = std::min(kBlock, s.points - p0);
    const float* xb = x + p0;
    // Forward: s0 = sin(w0 (W0 x + b0)), a1 = w0 (W1 s0 + b1), s1 = sin(a1); cos of both kept for backward.
    first_layer(xb, n, h, B.w0s, B.b0s, B.a0);
    sincos_approx(B.a0, n * h, B.s0, B.c0);
    bias_rows(n, h, B.b1s, B.s1);
    // Row-major [n, h] activations are column-major [h, n]: a1 = (w0 W1) s0 column by column.
    gemm('N', 'N', h, n, h, B.w1st, h, B.s0, h, 1.0f, B.s1, h);
    sincos_approx(B.s1, n * h, B.s1, B.c1);
    sq += output_and_back(s, n, W2, c2, target + p0, B.s1, B.c1, B.gw2, &gb2, B.gb1, B.ga1);
    // Backward through the second layer: dW1s += ga1^T s0, d(s0) = ga1 (w0 W1).
    gemm('N', 'T', h, h, n, B.s0, h, B.ga1, h, 1.0f, B.gw1, h);
    gemm('N', 'N', h, n, h, B.w1s, h, B.ga1, h, 0.0f, B.a0, h);
    first_layer_back(xb, n, h, B.a0, B.c0, B.gw0, B.gb0);
  }
  // The chain rule through the w0 scaling, into the zoo's parameter order.
  float *gW0 = grad, *gb0 = gW0 + h, *gW1 = gb0 + h, *gb1 = gW1 + h * h, *gW2 = gb1 + h;
  for (int64_t j = 0; j < h; ++j) gW0[j] = w0 * B.gw0[j], gb0[j] = w0 * B.gb0[j], gb1[j] = w0 * B.gb1[j];
  for (int64_t x1 = 0; x1 < h * h; ++x1) gW1[x1] = w0 * B.gw1[x1];
  for (int64_t j = 0; j < h; ++j) gW2[j] = B.gw2[j];
  gW2[h] = gb2;
  return sq / static_cast<double>(s.points);
}

SNE_CLONES void adam_update(int64_t n, float* params, float* grad, float* m, float* v, float step_size,
                            float sqrt_bc2, float beta1, float beta2, float eps, float weight_decay) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i] + weight_decay * params[i];
    grad[i] = g;
    m[i] = m[i] * beta1 + g * (1.0f - beta1);
    v[i] = v[i] * beta2 + g * g * (1.0f - beta2);
    const float denom = std::sqrt(v[i]) / sqrt_bc2 + eps;
    params[i] -= m[i] * step_size / denom;
  }
}

}  // namespace sne::generators::kernels
