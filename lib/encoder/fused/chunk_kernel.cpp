#include "encoder/fused/chunk_kernel.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

// Every helper is inlined into the per-tile functions, which are compiled once per instruction set and chosen
// at load time (the build targets baseline x86-64; the loops below vectorise 4x wider with AVX-512).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SNE_KERNEL __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SNE_KERNEL
#endif
#define SNE_INLINE inline __attribute__((always_inline))

namespace sne::encoder::kernels {
namespace {

// ---- matrix products: the process's BLAS when there is one (LibTorch's libblas.so.3), else plain loops ----
using SgemmFn = void (*)(const char*, const char*, const int*, const int*, const int*, const float*, const float*,
                         const int*, const float*, const int*, const float*, float*, const int*);

SgemmFn blas_sgemm() {
  static const SgemmFn f = reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "sgemm_"));
  return f;
}

/// Column-major C[m,n] = beta C + op(A)[m,k] op(B)[k,n] (BLAS conventions; beta 0 never reads C).
void gemm(char ta, char tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
          int64_t ldb, float beta, float* c, int64_t ldc) {
  if (const SgemmFn f = blas_sgemm()) {
    const int M = static_cast<int>(m), N = static_cast<int>(n), K = static_cast<int>(k), LDA = static_cast<int>(lda),
              LDB = static_cast<int>(ldb), LDC = static_cast<int>(ldc);
    const float one = 1.0f;
    f(&ta, &tb, &M, &N, &K, &one, a, &LDA, b, &LDB, &beta, c, &LDC);
    return;
  }
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < m; ++i) {
      float acc = 0;
      for (int64_t l = 0; l < k; ++l)
        acc += (ta == 'N' ? a[i + l * lda] : a[l + i * lda]) * (tb == 'N' ? b[l + j * ldb] : b[j + l * ldb]);
      c[i + j * ldc] = beta == 0.0f ? acc : beta * c[i + j * ldc] + acc;
    }
}

// Row-major linear layers, PyTorch layout W [out, in].
void linear_forward(const LinearParams& L, const float* x, int64_t rows, float* y) {  // y = x W^T + b
  for (int64_t r = 0; r < rows; ++r) std::memcpy(y + r * L.out, L.b, sizeof(float) * static_cast<std::size_t>(L.out));
  gemm('T', 'N', L.out, rows, L.in, L.w, L.in, x, L.in, 1.0f, y, L.out);
}
void linear_backward_input(const LinearParams& L, const float* gy, int64_t rows, float* gx, bool accumulate) {
  gemm('N', 'N', L.in, rows, L.out, L.w, L.in, gy, L.out, accumulate ? 1.0f : 0.0f, gx, L.in);  // gx (+)= gy W
}
void linear_backward_params(const LinearParams& L, const LinearParams& G, const float* x, const float* gy,
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

/// erf by Abramowitz-Stegun 7.1.26 (absolute error <= 1.5e-7): the formula of ATen's vectorised erf.
SNE_INLINE float erf_approx(float x) {
  const float ax = std::fabs(x);
  const float t = 1.0f / (0.3275911f * ax + 1.0f);
  const float r = (((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f;
  const float y = 1.0f - r * t * exp_approx(-x * x);
  return x < 0 ? -y : y;
}

constexpr float kSqrtHalf = 0.70710678118654752f, kInvSqrt2Pi = 0.39894228040143268f;
SNE_INLINE float gelu(float x) { return x * 0.5f * (1.0f + erf_approx(x * kSqrtHalf)); }
SNE_INLINE float gelu_grad(float x) {
  return 0.5f * (1.0f + erf_approx(x * kSqrtHalf)) + x * kInvSqrt2Pi * exp_approx(-0.5f * x * x);
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

// ---- one tile of chunks ----
constexpr int64_t kTileRows = 256;  // real rows per tile: the activations of a tile stay in the L2/L3 caches

struct Tile {
  int64_t first = 0, count = 0;   // chunks [first, first + count)
  int64_t rows = 0, pairs = 0;    // real rows; attention weights per head (see attention_forward)
};

std::vector<Tile> make_tiles(const ChunkSet& cs) {
  std::vector<Tile> tiles;
  Tile t;
  for (int64_t i = 0; i < cs.count; ++i) {
    const int64_t n = cs.lengths[i];
    if (t.count > 0 && t.rows + n > std::max(kTileRows, cs.c)) {
      tiles.push_back(t);
      t = Tile{i, 0, 0, 0};
    }
    ++t.count;
    t.rows += n;
    t.pairs += n * ((n + 15) / 16 * 16);  // keys x queries padded to whole vector blocks
  }
  if (t.count > 0) tiles.push_back(t);
  return tiles;
}

/// The activations of one tile, kept for its backward pass. Buffers grow to the largest tile and are reused.
struct SabActs {
  float *x, *n1, *xh1, *rs1, *q, *k, *v, *p, *o, *h, *n2, *xh2, *rs2, *u, *g;
};
struct Workspace {
  std::vector<float> arena;
  std::vector<int64_t> row_of;  // first row of each chunk in the tile
  float* feats = nullptr;
  SabActs sab[4]{};
  float *pin, *kvn, *xhkv, *rskv, *pk, *pv, *pp, *po, *ph, *pn2, *pxh2, *prs2, *pu, *pg, *pout;
  // backward temporaries
  float *gx, *gy, *gh, *gf, *gn, *gq, *gk, *gv, *go, *tmp;

  // Hands out the buffers for a tile: once to count, then (the arena grown if needed) for real.
  void layout(const ChunkStageShape& s, const Tile& t, int64_t c) {
    for (bool counting : {true, false}) {
      if (!counting && arena.size() < used) arena.assign(used, 0.0f);
      carve(s, t, c, counting);
    }
  }

 private:
  std::size_t used = 0;
  float* take(std::size_t n, bool counting) {
    float* p = counting ? nullptr : arena.data() + used;
    used += (n + 15) & ~std::size_t{15};  // 64-byte aligned offsets
    return p;
  }
  void carve(const ChunkStageShape& s, const Tile& t, int64_t c, bool counting) {
    const auto R = static_cast<std::size_t>(t.rows), G = static_cast<std::size_t>(t.count),
               d = static_cast<std::size_t>(s.dim), F = static_cast<std::size_t>(s.ff),
               H = static_cast<std::size_t>(s.heads), E = static_cast<std::size_t>(s.value_features()),
               pairs = static_cast<std::size_t>(t.pairs), cmax = static_cast<std::size_t>(c);
    used = 0;
    const auto take = [&](std::size_t n) { return this->take(n, counting); };
    feats = take(R * E);
    for (auto& a : sab) {
      a.x = take(R * d), a.n1 = take(R * d), a.xh1 = take(R * d), a.rs1 = take(R);
      a.q = take(R * d), a.k = take(R * d), a.v = take(R * d), a.p = take(H * pairs), a.o = take(R * d);
      a.h = take(R * d), a.n2 = take(R * d), a.xh2 = take(R * d), a.rs2 = take(R), a.u = take(R * F), a.g = take(R * F);
    }
    pin = take(R * d), kvn = take(R * d), xhkv = take(R * d), rskv = take(R), pk = take(R * d), pv = take(R * d);
    pp = take(H * R);
    po = take(G * d), ph = take(G * d), pn2 = take(G * d), pxh2 = take(G * d), prs2 = take(G), pu = take(G * F),
    pg = take(G * F), pout = take(G * d);
    gx = take(R * d), gy = take(R * d), gh = take(R * d), gf = take(R * F), gn = take(R * d), gq = take(R * d),
    gk = take(R * d), gv = take(R * d), go = take(R * d);
    const std::size_t cpad = (cmax + 15) / 16 * 16;
    tmp = take(5 * cpad * d + 3 * cmax * cpad + 2 * cpad + d + F + cmax * d);
  }
};

Workspace& workspace() {
  thread_local Workspace ws;
  return ws;
}

/// What every tile shares: the PMA's query (its seed through LayerNorm and the query projection).
struct Shared {
  std::vector<float> lnq_y, lnq_xh, q;
  float lnq_rs = 0;
};

Shared shared_query(const ChunkStageShape& s, const ChunkStageParams& p) {
  Shared sh;
  const auto d = static_cast<std::size_t>(s.dim);
  sh.lnq_y.resize(d), sh.lnq_xh.resize(d), sh.q.resize(d);
  layer_norm(p.pma.ln_q, p.pma.seed, 1, s.dim, sh.lnq_y.data(), sh.lnq_xh.data(), &sh.lnq_rs);
  linear_forward(p.pma.q, sh.lnq_y.data(), 1, sh.q.data());
  return sh;
}

// Self-attention of each chunk's rows, per head, in a transposed layout: scores are held as St[j][i] (key j,
// query i) so that the softmax over keys, the weighted sums and their gradients are vector operations across
// queries, in register blocks of kLanes queries, with no horizontal reductions but dK's and dV's. The query
// dimension is padded to a multiple of kLanes with zero queries (never read back). P is kept for backward.
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

/// C[e][i] = scale * sum_j A[j * lda + e] Y[j][i] for e < hd, j < n, i < np; four columns e at a time.
SNE_INLINE void cols_times(const float* a, int64_t lda, float scale, const float* y, int64_t hd, int64_t n,
                           int64_t np, float* c) {
  int64_t e = 0;
  for (; e + 4 <= hd; e += 4)
    for (int64_t i0 = 0; i0 < np; i0 += kLanes) {
      Block c0 = {}, c1 = {}, c2 = {}, c3 = {};
      for (int64_t j = 0; j < n; ++j) {
        const Block yv = load(y + j * np + i0);
        const float* aj = a + j * lda + e;
        c0 += aj[0] * yv, c1 += aj[1] * yv, c2 += aj[2] * yv, c3 += aj[3] * yv;
      }
      store(c + e * np + i0, c0 * scale), store(c + (e + 1) * np + i0, c1 * scale);
      store(c + (e + 2) * np + i0, c2 * scale), store(c + (e + 3) * np + i0, c3 * scale);
    }
  for (; e < hd; ++e)
    for (int64_t i0 = 0; i0 < np; i0 += kLanes) {
      Block acc = {};
      for (int64_t j = 0; j < n; ++j) acc += a[j * lda + e] * load(y + j * np + i0);
      store(c + e * np + i0, acc * scale);
    }
}

/// P = softmax(Q K^T / sqrt(hd)), O = P V for every chunk and head of the tile.
SNE_INLINE void attention_forward(const ChunkStageShape& s, const Workspace& ws, const Tile& t, const int32_t* len,
                                  const SabActs& a, float* __restrict tmp) {
  const int64_t d = s.dim, H = s.heads, hd = d / H;
  const float inv = 1.0f / std::sqrt(static_cast<float>(hd));
  int64_t pofs = 0;
  for (int64_t g = 0; g < t.count; ++g) {
    const int64_t n = len[g], np = padded(n), r0 = ws.row_of[static_cast<std::size_t>(g)];
    float* __restrict qt = tmp;           // [hd, np]
    float* __restrict mx = tmp + hd * np; // [np]
    float* __restrict sum = mx + np;      // [np]
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t e = 0; e < hd; ++e)
        for (int64_t i = 0; i < np; ++i) qt[e * np + i] = i < n ? a.q[(r0 + i) * d + h * hd + e] * inv : 0.0f;
      float* __restrict pt = a.p + pofs + h * n * np;  // [n keys, np queries]
      rows_times(a.k + r0 * d + h * hd, d, qt, hd, n, np, pt);
      for (int64_t i = 0; i < np; ++i) mx[i] = pt[i], sum[i] = 0;
      for (int64_t j = 1; j < n; ++j)
        for (int64_t i = 0; i < np; ++i) mx[i] = std::max(mx[i], pt[j * np + i]);
      for (int64_t j = 0; j < n; ++j)
        for (int64_t i = 0; i < np; ++i) {
          const float p = exp_approx(pt[j * np + i] - mx[i]);
          pt[j * np + i] = p;
          sum[i] += p;
        }
      for (int64_t i = 0; i < np; ++i) sum[i] = 1.0f / sum[i];
      for (int64_t j = 0; j < n; ++j)
        for (int64_t i = 0; i < np; ++i) pt[j * np + i] *= sum[i];
      cols_times(a.v + r0 * d + h * hd, d, 1.0f, pt, hd, n, np, qt);  // O^T, into qt's space (Q is done)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t e = 0; e < hd; ++e) a.o[(r0 + i) * d + h * hd + e] = qt[e * np + i];
    }
    pofs += H * n * np;
  }
}

/// From gO: gQ, gK, gV (overwritten) for every chunk and head of the tile.
SNE_INLINE void attention_backward(const ChunkStageShape& s, const Workspace& ws, const Tile& t, const int32_t* len,
                                   const SabActs& a, const float* go, float* gq, float* gk, float* gv,
                                   float* __restrict tmp) {
  const int64_t d = s.dim, H = s.heads, hd = d / H;
  const float inv = 1.0f / std::sqrt(static_cast<float>(hd));
  int64_t pofs = 0;
  for (int64_t g = 0; g < t.count; ++g) {
    const int64_t n = len[g], np = padded(n), r0 = ws.row_of[static_cast<std::size_t>(g)];
    float* __restrict got = tmp;           // [hd, np] dO, transposed
    float* __restrict qt = got + hd * np;  // [hd, np] Q / sqrt(hd), transposed
    float* __restrict gqt = qt + hd * np;  // [hd, np] dQ, transposed
    float* __restrict dot = gqt + hd * np; // [np]
    float* __restrict gst = dot + np;      // [n, np] dS, transposed like P
    float* __restrict gs_q = gst + n * np; // [n, np] dS as [query][key]
    float* __restrict p_q = gs_q + n * np; // [n, np] P as [query][key]
    float* __restrict gkt = p_q + n * np;  // [hd, np] dK, transposed
    float* __restrict gvt = gkt + hd * np; // [hd, np] dV, transposed
    for (int64_t h = 0; h < H; ++h) {
      const float* __restrict pt = a.p + pofs + h * n * np;
      for (int64_t e = 0; e < hd; ++e)
        for (int64_t i = 0; i < np; ++i) {
          got[e * np + i] = i < n ? go[(r0 + i) * d + h * hd + e] : 0.0f;
          qt[e * np + i] = i < n ? a.q[(r0 + i) * d + h * hd + e] * inv : 0.0f;
        }
      rows_times(a.v + r0 * d + h * hd, d, got, hd, n, np, gst);  // dP
      for (int64_t i = 0; i < np; ++i) dot[i] = 0;
      for (int64_t j = 0; j < n; ++j)  // dot = sum_j dP * P
        for (int64_t i = 0; i < np; ++i) dot[i] += gst[j * np + i] * pt[j * np + i];
      for (int64_t j = 0; j < n; ++j)  // dS (before the 1/sqrt(hd), which qt and the dQ pass carry)
        for (int64_t i = 0; i < np; ++i) gst[j * np + i] = pt[j * np + i] * (gst[j * np + i] - dot[i]);
      cols_times(a.k + r0 * d + h * hd, d, inv, gst, hd, n, np, gqt);  // dQ^T = (dS K)^T / sqrt(hd)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t e = 0; e < hd; ++e) gq[(r0 + i) * d + h * hd + e] = gqt[e * np + i];
      // dK = dS^T Q / sqrt(hd) and dV = P^T dO: with dS and P transposed back to [query][key], these are the
      // same column products, vectorised across keys.
      for (int64_t j = 0; j < n; ++j)
        for (int64_t i = 0; i < n; ++i) {
          gs_q[i * np + j] = gst[j * np + i];
          p_q[i * np + j] = pt[j * np + i];
        }
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = n; j < np; ++j) gs_q[i * np + j] = p_q[i * np + j] = 0.0f;
      cols_times(a.q + r0 * d + h * hd, d, inv, gs_q, hd, n, np, gkt);
      cols_times(go + r0 * d + h * hd, d, 1.0f, p_q, hd, n, np, gvt);
      for (int64_t j = 0; j < n; ++j)
        for (int64_t e = 0; e < hd; ++e) {
          gk[(r0 + j) * d + h * hd + e] = gkt[e * np + j];
          gv[(r0 + j) * d + h * hd + e] = gvt[e * np + j];
        }
    }
    pofs += H * n * np;
  }
}

/// Pre-LN SAB on the tile's rows: out = h + FF(LN2(h)), h = x + Att(LN1(x)).
SNE_INLINE void sab_forward(const ChunkStageShape& s, const SabParams& P, Workspace& ws, const Tile& t,
                            const int32_t* len, const SabActs& a, float* out) {
  const int64_t R = t.rows, d = s.dim, F = s.ff;
  layer_norm(P.ln1, a.x, R, d, a.n1, a.xh1, a.rs1);
  linear_forward(P.q, a.n1, R, a.q);
  linear_forward(P.k, a.n1, R, a.k);
  linear_forward(P.v, a.n1, R, a.v);
  attention_forward(s, ws, t, len, a, ws.tmp);
  linear_forward(P.o, a.o, R, a.h);
  for (int64_t x = 0; x < R * d; ++x) a.h[x] += a.x[x];
  layer_norm(P.ln2, a.h, R, d, a.n2, a.xh2, a.rs2);
  linear_forward(P.ff1, a.n2, R, a.u);
  for (int64_t x = 0; x < R * F; ++x) a.g[x] = gelu(a.u[x]);
  linear_forward(P.ff2, a.g, R, out);
  for (int64_t x = 0; x < R * d; ++x) out[x] += a.h[x];
}

/// gx = d(loss)/d(SAB input) from gout = d(loss)/d(SAB output); parameter gradients into G.
SNE_INLINE void sab_backward(const ChunkStageShape& s, const SabParams& P, const SabParams& G, Workspace& ws,
                             const Tile& t, const int32_t* len, const SabActs& a, const float* gout, float* gx) {
  const int64_t R = t.rows, d = s.dim, F = s.ff;
  float* gh = ws.gh;
  std::memcpy(gh, gout, sizeof(float) * static_cast<std::size_t>(R * d));
  linear_backward_params(P.ff2, G.ff2, a.g, gout, R);
  linear_backward_input(P.ff2, gout, R, ws.gf, false);
  for (int64_t x = 0; x < R * F; ++x) ws.gf[x] *= gelu_grad(a.u[x]);
  linear_backward_params(P.ff1, G.ff1, a.n2, ws.gf, R);
  linear_backward_input(P.ff1, ws.gf, R, ws.gn, false);
  layer_norm_backward(P.ln2, G.ln2, ws.gn, a.xh2, a.rs2, R, d, gh, true, ws.tmp);
  linear_backward_params(P.o, G.o, a.o, gh, R);
  linear_backward_input(P.o, gh, R, ws.go, false);
  attention_backward(s, ws, t, len, a, ws.go, ws.gq, ws.gk, ws.gv, ws.tmp);
  linear_backward_params(P.q, G.q, a.n1, ws.gq, R);
  linear_backward_params(P.k, G.k, a.n1, ws.gk, R);
  linear_backward_params(P.v, G.v, a.n1, ws.gv, R);
  linear_backward_input(P.q, ws.gq, R, ws.gn, false);
  linear_backward_input(P.k, ws.gk, R, ws.gn, true);
  linear_backward_input(P.v, ws.gv, R, ws.gn, true);
  std::memcpy(gx, gh, sizeof(float) * static_cast<std::size_t>(R * d));
  layer_norm_backward(P.ln1, G.ln1, ws.gn, a.xh1, a.rs1, R, d, gx, true, ws.tmp);
}

SNE_INLINE void pma_forward(const ChunkStageShape& s, const PmaParams& P, const Shared& sh, Workspace& ws,
                            const Tile& t, const int32_t* len) {
  const int64_t R = t.rows, G = t.count, d = s.dim, F = s.ff, H = s.heads, hd = d / H;
  const float inv = 1.0f / std::sqrt(static_cast<float>(hd));
  layer_norm(P.ln_kv, ws.pin, R, d, ws.kvn, ws.xhkv, ws.rskv);
  linear_forward(P.k, ws.kvn, R, ws.pk);
  linear_forward(P.v, ws.kvn, R, ws.pv);
  for (int64_t g = 0; g < G; ++g) {
    const int64_t n = len[g], r0 = ws.row_of[static_cast<std::size_t>(g)];
    for (int64_t h = 0; h < H; ++h) {
      float* prow = ws.pp + H * r0 + h * n;
      const float* q = sh.q.data() + h * hd;
      for (int64_t j = 0; j < n; ++j) {
        float acc = 0;
        for (int64_t e = 0; e < hd; ++e) acc += q[e] * ws.pk[(r0 + j) * d + h * hd + e];
        prow[j] = acc * inv;
      }
      float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
      for (int64_t j = 0; j < n; ++j) mx = std::max(mx, prow[j]);
      for (int64_t j = 0; j < n; ++j) prow[j] = exp_approx(prow[j] - mx);
      float sum = 0;
      for (int64_t j = 0; j < n; ++j) sum += prow[j];
      const float rs = 1.0f / sum;
      for (int64_t j = 0; j < n; ++j) prow[j] *= rs;
      float* o = ws.po + g * d + h * hd;
      for (int64_t e = 0; e < hd; ++e) o[e] = 0;
      for (int64_t j = 0; j < n; ++j)
        for (int64_t e = 0; e < hd; ++e) o[e] += prow[j] * ws.pv[(r0 + j) * d + h * hd + e];
    }
  }
  linear_forward(P.o, ws.po, G, ws.ph);
  if (s.seed_residual)
    for (int64_t g = 0; g < G; ++g)
      for (int64_t j = 0; j < d; ++j) ws.ph[g * d + j] += P.seed[j];
  layer_norm(P.ln2, ws.ph, G, d, ws.pn2, ws.pxh2, ws.prs2);
  linear_forward(P.ff1, ws.pn2, G, ws.pu);
  for (int64_t x = 0; x < G * F; ++x) ws.pg[x] = gelu(ws.pu[x]);
  linear_forward(P.ff2, ws.pg, G, ws.pout);
  for (int64_t x = 0; x < G * d; ++x) ws.pout[x] += ws.ph[x];
}

/// From gout [G, d]: ws.gx = d(loss)/d(PMA input) [R, d]; the query's gradient is added into gq_sum [d].
SNE_INLINE void pma_backward(const ChunkStageShape& s, const PmaParams& P, const PmaParams& Gr, const Shared& sh,
                             Workspace& ws, const Tile& t, const int32_t* len, const float* gout, float* gq_sum) {
  const int64_t R = t.rows, G = t.count, d = s.dim, F = s.ff, H = s.heads, hd = d / H;
  const float inv = 1.0f / std::sqrt(static_cast<float>(hd));
  float* gh = ws.gh;  // [G, d]
  std::memcpy(gh, gout, sizeof(float) * static_cast<std::size_t>(G * d));
  linear_backward_params(P.ff2, Gr.ff2, ws.pg, gout, G);
  linear_backward_input(P.ff2, gout, G, ws.gf, false);
  for (int64_t x = 0; x < G * F; ++x) ws.gf[x] *= gelu_grad(ws.pu[x]);
  linear_backward_params(P.ff1, Gr.ff1, ws.pn2, ws.gf, G);
  linear_backward_input(P.ff1, ws.gf, G, ws.gn, false);
  layer_norm_backward(P.ln2, Gr.ln2, ws.gn, ws.pxh2, ws.prs2, G, d, gh, true, ws.tmp);
  if (s.seed_residual)
    for (int64_t g = 0; g < G; ++g)
      for (int64_t j = 0; j < d; ++j) Gr.seed[j] += gh[g * d + j];
  linear_backward_params(P.o, Gr.o, ws.po, gh, G);
  linear_backward_input(P.o, gh, G, ws.go, false);  // [G, d]
  float* gs = ws.tmp;
  for (int64_t g = 0; g < G; ++g) {
    const int64_t n = len[g], r0 = ws.row_of[static_cast<std::size_t>(g)];
    for (int64_t h = 0; h < H; ++h) {
      const float* prow = ws.pp + H * r0 + h * n;
      const float* go = ws.go + g * d + h * hd;
      const float* q = sh.q.data() + h * hd;
      float dot = 0;
      for (int64_t j = 0; j < n; ++j) {
        float acc = 0;
        for (int64_t e = 0; e < hd; ++e) acc += go[e] * ws.pv[(r0 + j) * d + h * hd + e];
        gs[j] = acc;
        dot += acc * prow[j];
      }
      for (int64_t j = 0; j < n; ++j) {
        const float gsj = prow[j] * (gs[j] - dot) * inv;
        float* gkj = ws.gk + (r0 + j) * d + h * hd;
        float* gvj = ws.gv + (r0 + j) * d + h * hd;
        const float* kj = ws.pk + (r0 + j) * d + h * hd;
        for (int64_t e = 0; e < hd; ++e) {
          gq_sum[h * hd + e] += gsj * kj[e];
          gkj[e] = gsj * q[e];
          gvj[e] = prow[j] * go[e];
        }
      }
    }
  }
  linear_backward_params(P.k, Gr.k, ws.kvn, ws.gk, R);
  linear_backward_params(P.v, Gr.v, ws.kvn, ws.gv, R);
  linear_backward_input(P.k, ws.gk, R, ws.gn, false);
  linear_backward_input(P.v, ws.gv, R, ws.gn, true);
  layer_norm_backward(P.ln_kv, Gr.ln_kv, ws.gn, ws.xhkv, ws.rskv, R, d, ws.gx, false, ws.tmp);
}

/// The whole stage for one tile; the output is ws.pout [G, d].
SNE_KERNEL void tile_forward(const ChunkStageShape& s, const ChunkStageParams& p, const Shared& sh,
                             const ChunkSet& cs, const Tile& t, Workspace& ws) {
  ws.layout(s, t, cs.c);
  ws.row_of.resize(static_cast<std::size_t>(t.count));
  const int32_t* len = cs.lengths + t.first;
  const int64_t d = s.dim, E = s.value_features();
  int64_t r = 0;
  for (int64_t g = 0; g < t.count; ++g) {  // the value features of the real elements
    ws.row_of[static_cast<std::size_t>(g)] = r;
    const float* v = cs.values + (t.first + g) * cs.c;
    for (int64_t i = 0; i < len[g]; ++i, ++r) {
      float* f = ws.feats + r * E;
      f[0] = v[i];
      for (int64_t k = 0; k < (s.fourier ? s.fourier_bands : 0); ++k) {
        const float a = v[i] * std::ldexp(1.0f, static_cast<int>(k));
        f[1 + 2 * k] = std::sin(a);
        f[2 + 2 * k] = std::cos(a);
      }
    }
  }
  linear_forward(p.value, ws.feats, t.rows, ws.sab[0].x);
  for (int l = 0; l < 4; ++l) {
    float* out = l < 3 ? ws.sab[l + 1].x : ws.pin;
    sab_forward(s, p.sab[l], ws, t, len, ws.sab[l], out);
    if (l == 1 && cs.encoding)  // + type and level encodings of each chunk's tensor
      for (int64_t g = 0; g < t.count; ++g)
        for (int64_t i = 0; i < len[g]; ++i)
          for (int64_t j = 0; j < d; ++j)
            out[(ws.row_of[static_cast<std::size_t>(g)] + i) * d + j] += cs.encoding[(t.first + g) * d + j];
  }
  pma_forward(s, p.pma, sh, ws, t, len);
}

SNE_KERNEL void tile_backward(const ChunkStageShape& s, const ChunkStageParams& p, const ChunkStageParams& G,
                              const Shared& sh, const ChunkSet& cs, const Tile& t, Workspace& ws,
                              const float* grad_out, float* gq_sum) {
  tile_forward(s, p, sh, cs, t, ws);
  const int32_t* len = cs.lengths + t.first;
  pma_backward(s, p.pma, G.pma, sh, ws, t, len, grad_out + t.first * s.dim, gq_sum);
  for (int l = 3; l >= 0; --l) {
    // ws.gx holds the gradient of block l's output; the encodings' addition passes it through unchanged.
    std::memcpy(ws.gy, ws.gx, sizeof(float) * static_cast<std::size_t>(t.rows * s.dim));
    sab_backward(s, p.sab[l], G.sab[l], ws, t, len, ws.sab[l], ws.gy, ws.gx);
  }
  linear_backward_params(p.value, G.value, ws.feats, ws.gx, t.rows);
}

void check_shape(const ChunkStageShape& s, const ChunkSet& cs) {
  if (s.heads < 1 || s.dim % s.heads != 0) throw std::invalid_argument("chunk kernel: dim must be a multiple of heads");
  for (int64_t i = 0; i < cs.count; ++i)
    if (cs.lengths[i] < 1 || cs.lengths[i] > cs.c)
      throw std::invalid_argument("chunk kernel: chunk " + std::to_string(i) + " has " +
                                  std::to_string(cs.lengths[i]) + " real elements (expected 1.." +
                                  std::to_string(cs.c) + ")");
}

}  // namespace

std::vector<int64_t> parameter_sizes(const ChunkStageShape& s) {
  const int64_t d = s.dim, F = s.ff;
  std::vector<int64_t> out{d * s.value_features(), d};
  const auto linear = [&](int64_t o, int64_t i) { out.push_back(o * i), out.push_back(o); };
  const auto norm = [&] { out.push_back(d), out.push_back(d); };
  for (int l = 0; l < 4; ++l) {
    norm(), norm();
    linear(d, d), linear(d, d), linear(d, d), linear(d, d), linear(F, d), linear(d, F);
  }
  out.push_back(d);
  norm(), norm(), norm();
  linear(d, d), linear(d, d), linear(d, d), linear(d, d), linear(F, d), linear(d, F);
  return out;
}

ChunkStageParams bind(const ChunkStageShape& s, const std::vector<float*>& ptrs) {
  if (ptrs.size() != parameter_sizes(s).size())
    throw std::invalid_argument("chunk kernel: " + std::to_string(ptrs.size()) + " parameter tensors, expected " +
                                std::to_string(parameter_sizes(s).size()));
  std::size_t k = 0;
  const int64_t d = s.dim, F = s.ff;
  const auto linear = [&](int64_t o, int64_t i) {
    LinearParams L{ptrs[k], ptrs[k + 1], o, i};
    k += 2;
    return L;
  };
  const auto norm = [&] {
    NormParams n{ptrs[k], ptrs[k + 1]};
    k += 2;
    return n;
  };
  ChunkStageParams p;
  p.value = linear(d, s.value_features());
  for (auto& b : p.sab) {
    b.ln1 = norm(), b.ln2 = norm();
    b.q = linear(d, d), b.k = linear(d, d), b.v = linear(d, d), b.o = linear(d, d);
    b.ff1 = linear(F, d), b.ff2 = linear(d, F);
  }
  p.pma.seed = ptrs[k++];
  p.pma.ln_q = norm(), p.pma.ln_kv = norm(), p.pma.ln2 = norm();
  p.pma.q = linear(d, d), p.pma.k = linear(d, d), p.pma.v = linear(d, d), p.pma.o = linear(d, d);
  p.pma.ff1 = linear(F, d), p.pma.ff2 = linear(d, F);
  return p;
}

std::vector<float*> pointers_of(const ChunkStageParams& p) {
  std::vector<float*> out{p.value.w, p.value.b};
  for (const auto& b : p.sab) {
    for (const NormParams* n : {&b.ln1, &b.ln2}) out.push_back(n->g), out.push_back(n->b);
    for (const LinearParams* L : {&b.q, &b.k, &b.v, &b.o, &b.ff1, &b.ff2}) out.push_back(L->w), out.push_back(L->b);
  }
  out.push_back(p.pma.seed);
  for (const NormParams* n : {&p.pma.ln_q, &p.pma.ln_kv, &p.pma.ln2}) out.push_back(n->g), out.push_back(n->b);
  for (const LinearParams* L : {&p.pma.q, &p.pma.k, &p.pma.v, &p.pma.o, &p.pma.ff1, &p.pma.ff2})
    out.push_back(L->w), out.push_back(L->b);
  return out;
}

bool has_blas() { return blas_sgemm() != nullptr; }

void chunk_stage_forward(const ChunkStageShape& s, const ChunkStageParams& p, const ChunkSet& cs, float* out) {
  check_shape(s, cs);
  const std::vector<Tile> tiles = make_tiles(cs);
  const Shared sh = shared_query(s, p);
  at::parallel_for(0, static_cast<int64_t>(tiles.size()), 1, [&](int64_t begin, int64_t end) {
    Workspace& ws = workspace();
    for (int64_t i = begin; i < end; ++i) {
      const Tile& t = tiles[static_cast<std::size_t>(i)];
      tile_forward(s, p, sh, cs, t, ws);
      std::memcpy(out + t.first * s.dim, ws.pout, sizeof(float) * static_cast<std::size_t>(t.count * s.dim));
    }
  });
}

void chunk_stage_backward(const ChunkStageShape& s, const ChunkStageParams& p, const ChunkSet& cs,
                          const float* grad_out, const ChunkStageParams& grads) {
  check_shape(s, cs);
  const std::vector<Tile> tiles = make_tiles(cs);
  const Shared sh = shared_query(s, p);
  const std::vector<int64_t> sizes = parameter_sizes(s);
  int64_t total = 0;
  for (int64_t n : sizes) total += n;
  // One gradient buffer per thread, summed in thread order afterwards: the result depends on the thread count
  // only through the order of that sum, and is identical run to run.
  const int threads = std::max(1, at::get_num_threads());
  std::vector<std::vector<float>> acc(static_cast<std::size_t>(threads));
  std::vector<std::vector<float>> gq(static_cast<std::size_t>(threads));
  at::parallel_for(0, static_cast<int64_t>(tiles.size()), 1, [&](int64_t begin, int64_t end) {
    const auto tid = static_cast<std::size_t>(std::min(at::get_thread_num(), threads - 1));
    std::vector<float>& buf = acc[tid];
    if (buf.empty()) buf.assign(static_cast<std::size_t>(total), 0.0f);
    if (gq[tid].empty()) gq[tid].assign(static_cast<std::size_t>(s.dim), 0.0f);
    std::vector<float*> ptrs;
    float* cursor = buf.data();
    for (int64_t n : sizes) ptrs.push_back(cursor), cursor += n;
    const ChunkStageParams G = kernels::bind(s, ptrs);
    Workspace& ws = workspace();
    for (int64_t i = begin; i < end; ++i)
      tile_backward(s, p, G, sh, cs, tiles[static_cast<std::size_t>(i)], ws, grad_out, gq[tid].data());
  });
  // Sum the threads' gradients into `grads`, tensor by tensor.
  std::vector<float> gq_sum(static_cast<std::size_t>(s.dim), 0.0f);
  const std::vector<float*> dst = pointers_of(grads);
  for (std::size_t tid = 0; tid < acc.size(); ++tid) {
    if (acc[tid].empty()) continue;
    const float* src = acc[tid].data();
    for (std::size_t k = 0; k < sizes.size(); ++k) {
      for (int64_t x = 0; x < sizes[k]; ++x) dst[k][x] += src[x];
      src += sizes[k];
    }
    for (int64_t j = 0; j < s.dim; ++j) gq_sum[static_cast<std::size_t>(j)] += gq[tid][static_cast<std::size_t>(j)];
  }
  // The PMA's query is shared by every chunk: back through its projection and LayerNorm into the seed.
  const PmaParams& P = p.pma;
  const PmaParams& Gp = grads.pma;
  const int64_t d = s.dim;
  for (int64_t o = 0; o < d; ++o) {
    Gp.q.b[o] += gq_sum[static_cast<std::size_t>(o)];
    for (int64_t i = 0; i < d; ++i) Gp.q.w[o * d + i] += gq_sum[static_cast<std::size_t>(o)] * sh.lnq_y[static_cast<std::size_t>(i)];
  }
  std::vector<float> g_lnq(static_cast<std::size_t>(d), 0.0f), tmp(static_cast<std::size_t>(d));
  for (int64_t o = 0; o < d; ++o)
    for (int64_t i = 0; i < d; ++i) g_lnq[static_cast<std::size_t>(i)] += gq_sum[static_cast<std::size_t>(o)] * P.q.w[o * d + i];
  layer_norm_backward(P.ln_q, Gp.ln_q, g_lnq.data(), sh.lnq_xh.data(), &sh.lnq_rs, 1, d, Gp.seed, true, tmp.data());
}

}  // namespace sne::encoder::kernels
