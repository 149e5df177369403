#include "encoder/fused/attention_kernel.h"

#include <ATen/Parallel.h>

#include <cfloat>
#include <cmath>
#include <vector>

#include "encoder/fused/kernel_math.h"

namespace sne::encoder::kernels {
namespace {
using detail::exp_approx;
using detail::padded;

/// A per-thread buffer, reused from call to call (no allocation in the steady state).
float* workspace(std::size_t n) {
  thread_local std::vector<float> w;
  if (w.size() < n) w.resize(n);
  return w.data();
}

/// The key mask of one set as 0/1 floats over np >= Lk columns (0 beyond Lk); returns the number of real keys.
SNE_INLINE int64_t mask_row(const uint8_t* mask, int64_t lk, int64_t np, float* m) {
  int64_t real = 0;
  for (int64_t j = 0; j < np; ++j) {
    m[j] = j < lk && (mask == nullptr || mask[j] != 0) ? 1.0f : 0.0f;
    real += m[j] > 0;
  }
  return real;
}

/// xt[c][j] = x[j * d + c] for c < hd, j < lk; zero for lk <= j < np (x points at the set's first row, head h).
SNE_INLINE void gather_transposed(const float* x, int64_t lk, int64_t d, int64_t hd, int64_t np, float* xt) {
  for (int64_t c = 0; c < hd; ++c) {
    float* row = xt + c * np;
    for (int64_t j = 0; j < lk; ++j) row[j] = x[j * d + c];
    for (int64_t j = lk; j < np; ++j) row[j] = 0.0f;
  }
}

SNE_INLINE void zero_rows(float* x, int64_t rows, int64_t d, int64_t hd) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < hd; ++c) x[r * d + c] = 0.0f;
}

/// One (set, head): q, out point at the set's first query row, k, v at its first key row, all at column h * hd;
/// stats at the item's Lq (max, 1 / sum) pairs.
SNE_KERNEL void forward_item(const AttentionShape& s, int64_t hd, const float* q, const float* k, const float* v,
                             const uint8_t* mask, float* out, float* stats) {
  const int64_t d = s.dim, lq = s.queries, lk = s.keys, np = padded(lk);
  float* __restrict kt = workspace(static_cast<std::size_t>(2 * hd * np + 2 * np));
  float* __restrict vt = kt + hd * np;
  float* __restrict m = vt + hd * np;
  float* __restrict p = m + np;
  if (mask_row(mask, lk, np, m) == 0) {  // no real key: a zero output, as the reference gives
    zero_rows(out, lq, d, hd);
    for (int64_t i = 0; i < 2 * lq; ++i) stats[i] = 0.0f;
    return;
  }
  gather_transposed(k, lk, d, hd, np, kt);
  gather_transposed(v, lk, d, hd, np, vt);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (int64_t i = 0; i < lq; ++i) {
    const float* qi = q + i * d;
    for (int64_t j = 0; j < np; ++j) p[j] = 0.0f;
    for (int64_t c = 0; c < hd; ++c) {
      const float a = qi[c] * scale;
      const float* kc = kt + c * np;
      for (int64_t j = 0; j < np; ++j) p[j] += a * kc[j];
    }
    float mx = -FLT_MAX;
    for (int64_t j = 0; j < np; ++j) mx = std::max(mx, m[j] > 0 ? p[j] : -FLT_MAX);
    float sum = 0.0f;
    for (int64_t j = 0; j < np; ++j) {  // exp_approx clamps its argument: a padded key gives 0, never inf * 0
      const float e = exp_approx(p[j] - mx) * m[j];
      p[j] = e;
      sum += e;
    }
    const float inv = 1.0f / sum;
    float* oi = out + i * d;
    for (int64_t c = 0; c < hd; ++c) {
      const float* vc = vt + c * np;
      float acc = 0.0f;
      for (int64_t j = 0; j < np; ++j) acc += p[j] * vc[j];
      oi[c] = acc * inv;
    }
    stats[2 * i] = mx;
    stats[2 * i + 1] = inv;
  }
}

SNE_KERNEL void backward_item(const AttentionShape& s, int64_t hd, const float* q, const float* k, const float* v,
                              const uint8_t* mask, const float* stats, const float* gout, float* gq,
                              float* gk, float* gv) {
  const int64_t d = s.dim, lq = s.queries, lk = s.keys, np = padded(lk);
  float* __restrict kt = workspace(static_cast<std::size_t>(4 * hd * np + 3 * np));
  float* __restrict vt = kt + hd * np;
  float* __restrict dkt = vt + hd * np;
  float* __restrict dvt = dkt + hd * np;
  float* __restrict m = dvt + hd * np;
  float* __restrict p = m + np;
  float* __restrict dp = p + np;
  if (mask_row(mask, lk, np, m) == 0) {  // the output was a constant zero: no gradient
    zero_rows(gq, lq, d, hd);
    zero_rows(gk, lk, d, hd);
    zero_rows(gv, lk, d, hd);
    return;
  }
  gather_transposed(k, lk, d, hd, np, kt);
  gather_transposed(v, lk, d, hd, np, vt);
  for (int64_t j = 0; j < 2 * hd * np; ++j) dkt[j] = 0.0f;  // dkt and dvt
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (int64_t i = 0; i < lq; ++i) {
    const float *qi = q + i * d, *gi = gout + i * d;
    for (int64_t j = 0; j < np; ++j) p[j] = 0.0f, dp[j] = 0.0f;
    for (int64_t c = 0; c < hd; ++c) {
      const float a = qi[c] * scale, g = gi[c];
      const float *kc = kt + c * np, *vc = vt + c * np;
      for (int64_t j = 0; j < np; ++j) p[j] += a * kc[j], dp[j] += g * vc[j];
    }
    const float mx = stats[2 * i], inv = stats[2 * i + 1];
    // D = sum_j P_ij dP_ij from the very P and dP used below (not dO_i . O_i, equal only up to rounding): the
    // gradient of the scores, P (dP - D), sums to zero over j as it must, with no amplified rounding.
    float D = 0.0f;
    for (int64_t j = 0; j < np; ++j) {
      const float pj = exp_approx(p[j] - mx) * m[j] * inv;  // the forward's weights, recomputed bit for bit
      p[j] = pj;
      D += pj * dp[j];
    }
    for (int64_t j = 0; j < np; ++j) dp[j] = p[j] * (dp[j] - D);  // the gradient of the scaled scores
    float* gqi = gq + i * d;
    for (int64_t c = 0; c < hd; ++c) {
      const float a = qi[c] * scale, g = gi[c];
      const float* kc = kt + c * np;
      float* __restrict dkc = dkt + c * np;
      float* __restrict dvc = dvt + c * np;
      float acc = 0.0f;
      for (int64_t j = 0; j < np; ++j) {
        acc += dp[j] * kc[j];
        dkc[j] += a * dp[j];
        dvc[j] += g * p[j];
      }
      gqi[c] = acc * scale;
    }
  }
  for (int64_t j = 0; j < lk; ++j)
    for (int64_t c = 0; c < hd; ++c) {
      gk[j * d + c] = dkt[c * np + j];
      gv[j * d + c] = dvt[c * np + j];
    }
}

/// Items in an order where neighbours share a set; at least one item per thread, unless the work is tiny.
template <class F>
void for_each_item(const AttentionShape& s, const F& f) {
  const int64_t items = s.sets * s.heads;
  const int64_t per_item = std::max<int64_t>(1, s.queries * padded(s.keys) * (s.dim / s.heads));
  at::parallel_for(0, items, std::max<int64_t>(1, 32768 / per_item), [&](int64_t begin, int64_t end) {
    for (int64_t it = begin; it < end; ++it) f(it / s.heads, it % s.heads);
  });
}

}  // namespace

void attention_forward(const AttentionShape& s, const float* q, const float* k, const float* v,
                       const uint8_t* key_mask, float* out, float* stats) {
  const int64_t hd = s.dim / s.heads, d = s.dim;
  for_each_item(s, [&](int64_t b, int64_t h) {
    const int64_t qo = b * s.queries * d + h * hd, ko = b * s.keys * d + h * hd;
    forward_item(s, hd, q + qo, k + ko, v + ko, key_mask ? key_mask + b * s.keys : nullptr, out + qo,
                 stats + 2 * (b * s.heads + h) * s.queries);
  });
}

void attention_backward(const AttentionShape& s, const float* q, const float* k, const float* v,
                        const uint8_t* key_mask, const float* stats, const float* gout, float* gq, float* gk,
                        float* gv) {
  const int64_t hd = s.dim / s.heads, d = s.dim;
  for_each_item(s, [&](int64_t b, int64_t h) {
    const int64_t qo = b * s.queries * d + h * hd, ko = b * s.keys * d + h * hd;
    backward_item(s, hd, q + qo, k + ko, v + ko, key_mask ? key_mask + b * s.keys : nullptr, stats + 2 * (b * s.heads + h) * s.queries, gout + qo, gq + qo, gk + ko, gv + ko);
  });
}

}  // namespace sne::encoder::kernels
