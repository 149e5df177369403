#include "encoder/fused/chunk_kernel.h"

#include "encoder/fused/chunk_tiles.h"
#include "encoder/fused/kernel_math.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace sne::encoder::kernels {
namespace {
using namespace detail;

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
      // O = P V, straight into O's rows: column-major, O^T [hd, n] = V^T [hd, n] times P^T (pt read as P).
      gemm('N', 'T', hd, n, n, a.v + r0 * d + h * hd, d, pt, np, 0.0f, a.o + r0 * d + h * hd, d);
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
    float* __restrict dot = got + hd * np; // [np]
    float* __restrict gst = dot + np;      // [n, np] dS, transposed like P
    for (int64_t h = 0; h < H; ++h) {
      const float* __restrict pt = a.p + pofs + h * n * np;
      for (int64_t e = 0; e < hd; ++e)
        for (int64_t i = 0; i < np; ++i) got[e * np + i] = i < n ? go[(r0 + i) * d + h * hd + e] : 0.0f;
      rows_times(a.v + r0 * d + h * hd, d, got, hd, n, np, gst);  // dP
      for (int64_t i = 0; i < np; ++i) dot[i] = 0;
      for (int64_t j = 0; j < n; ++j)  // dot = sum_j dP * P
        for (int64_t i = 0; i < np; ++i) dot[i] += gst[j * np + i] * pt[j * np + i];
      for (int64_t j = 0; j < n; ++j)  // dS (before the 1/sqrt(hd), which the dQ and dK products carry)
        for (int64_t i = 0; i < np; ++i) gst[j * np + i] = pt[j * np + i] * (gst[j * np + i] - dot[i]);
      // dQ = dS K / sqrt(hd), dK = dS^T Q / sqrt(hd), dV = P^T dO: small BLAS products straight into the rows
      // of gq, gk, gv. gst and pt hold dS^T and P^T row-major ([n keys][np queries]), i.e. dS and P
      // column-major with leading dimension np; Q, K, V, dO rows at head h are column-major [hd, n], leading d.
      gemm('N', 'T', hd, n, n, a.k + r0 * d + h * hd, d, gst, np, 0.0f, gq + r0 * d + h * hd, d, inv);
      gemm('N', 'N', hd, n, n, a.q + r0 * d + h * hd, d, gst, np, 0.0f, gk + r0 * d + h * hd, d, inv);
      gemm('N', 'N', hd, n, n, go + r0 * d + h * hd, d, pt, np, 0.0f, gv + r0 * d + h * hd, d);
    }
    pofs += H * n * np;
  }
}

/// The residual feed-forward half of a pre-LN block: out = h + FF(LN2(h)) over `rows` rows; n2, xh2, rs2, u
/// and g keep what its backward reads.
struct FeedForwardActs {
  float *n2, *xh2, *rs2, *u, *g;
};
SNE_INLINE void feed_forward(const ChunkStageShape& s, const NormParams& ln, const LinearParams& ff1,
                             const LinearParams& ff2, const float* h, int64_t rows, const FeedForwardActs& a,
                             float* out) {
  const int64_t d = s.dim, F = s.ff;
  layer_norm(ln, h, rows, d, a.n2, a.xh2, a.rs2);
  linear_forward(ff1, a.n2, rows, a.u);
  for (int64_t x = 0; x < rows * F; ++x) a.g[x] = gelu(a.u[x]);
  linear_forward(ff2, a.g, rows, out);
  for (int64_t x = 0; x < rows * d; ++x) out[x] += h[x];
}

/// Its backward: gh = d(loss)/dh from gout = d(loss)/d(out); parameter gradients into G's ln, ff1, ff2.
SNE_INLINE void feed_forward_backward(const ChunkStageShape& s, const NormParams& ln, const LinearParams& ff1,
                                      const LinearParams& ff2, const NormParams& gln, const LinearParams& gff1,
                                      const LinearParams& gff2, const FeedForwardActs& a, const float* gout,
                                      int64_t rows, Workspace& ws, float* gh) {
  const int64_t d = s.dim, F = s.ff;
  std::memcpy(gh, gout, sizeof(float) * static_cast<std::size_t>(rows * d));
  linear_backward_params(ff2, gff2, a.g, gout, rows);
  linear_backward_input(ff2, gout, rows, ws.gf, false);
  for (int64_t x = 0; x < rows * F; ++x) ws.gf[x] *= gelu_grad(a.u[x]);
  linear_backward_params(ff1, gff1, a.n2, ws.gf, rows);
  linear_backward_input(ff1, ws.gf, rows, ws.gn, false);
  layer_norm_backward(ln, gln, ws.gn, a.xh2, a.rs2, rows, d, gh, true, ws.tmp);
}

/// Pre-LN SAB on the tile's rows: out = h + FF(LN2(h)), h = x + Att(LN1(x)).
SNE_INLINE void sab_forward(const ChunkStageShape& s, const SabParams& P, Workspace& ws, const Tile& t,
                            const int32_t* len, const SabActs& a, float* out) {
  const int64_t R = t.rows, d = s.dim;
  layer_norm(P.ln1, a.x, R, d, a.n1, a.xh1, a.rs1);
  linear_forward(P.q, a.n1, R, a.q);
  linear_forward(P.k, a.n1, R, a.k);
  linear_forward(P.v, a.n1, R, a.v);
  attention_forward(s, ws, t, len, a, ws.tmp);
  linear_forward(P.o, a.o, R, a.h);
  for (int64_t x = 0; x < R * d; ++x) a.h[x] += a.x[x];
  feed_forward(s, P.ln2, P.ff1, P.ff2, a.h, R, {a.n2, a.xh2, a.rs2, a.u, a.g}, out);
}

/// gx = d(loss)/d(SAB input) from gout = d(loss)/d(SAB output); parameter gradients into G.
SNE_INLINE void sab_backward(const ChunkStageShape& s, const SabParams& P, const SabParams& G, Workspace& ws,
                             const Tile& t, const int32_t* len, const SabActs& a, const float* gout, float* gx) {
  const int64_t R = t.rows, d = s.dim;
  float* gh = ws.gh;
  feed_forward_backward(s, P.ln2, P.ff1, P.ff2, G.ln2, G.ff1, G.ff2, {a.n2, a.xh2, a.rs2, a.u, a.g}, gout, R, ws, gh);
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
  const int64_t R = t.rows, G = t.count, d = s.dim, H = s.heads, hd = d / H;
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
  feed_forward(s, P.ln2, P.ff1, P.ff2, ws.ph, G, {ws.pn2, ws.pxh2, ws.prs2, ws.pu, ws.pg}, ws.pout);
}

/// From gout [G, d]: ws.gx = d(loss)/d(PMA input) [R, d]; the query's gradient is added into gq_sum [d].
SNE_INLINE void pma_backward(const ChunkStageShape& s, const PmaParams& P, const PmaParams& Gr, const Shared& sh,
                             Workspace& ws, const Tile& t, const int32_t* len, const float* gout, float* gq_sum) {
  const int64_t R = t.rows, G = t.count, d = s.dim, H = s.heads, hd = d / H;
  const float inv = 1.0f / std::sqrt(static_cast<float>(hd));
  float* gh = ws.gh;  // [G, d]
  feed_forward_backward(s, P.ln2, P.ff1, P.ff2, Gr.ln2, Gr.ff1, Gr.ff2, {ws.pn2, ws.pxh2, ws.prs2, ws.pu, ws.pg}, gout,
                        G, ws, gh);
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

/// The parameters with every linear layer's weight also transposed ([in, out]), for the forward products.
struct WithTransposed {
  ChunkStageParams p;
  std::vector<float> store;
  explicit WithTransposed(const ChunkStageParams& params) : p(params) {
    std::vector<LinearParams*> all{&p.value, &p.pma.q, &p.pma.k, &p.pma.v, &p.pma.o, &p.pma.ff1, &p.pma.ff2};
    for (auto& b : p.sab)
      for (LinearParams* L : {&b.q, &b.k, &b.v, &b.o, &b.ff1, &b.ff2}) all.push_back(L);
    std::size_t n = 0;
    for (const LinearParams* L : all) n += static_cast<std::size_t>(L->out * L->in);
    store.resize(n);
    float* cursor = store.data();
    for (LinearParams* L : all) {
      for (int64_t o = 0; o < L->out; ++o)
        for (int64_t i = 0; i < L->in; ++i) cursor[i * L->out + o] = L->w[o * L->in + i];
      L->wt = cursor;
      cursor += L->out * L->in;
    }
  }
};

void check_shape(const ChunkStageShape& s, const ChunkSet& cs) {
  if (s.heads < 1 || s.dim % s.heads != 0) throw std::invalid_argument("chunk kernel: dim must be a multiple of heads");
  for (int64_t i = 0; i < cs.count; ++i)
    if (cs.lengths[i] < 1 || cs.lengths[i] > cs.c)
      throw std::invalid_argument("chunk kernel: chunk " + std::to_string(i) + " has " +
                                  std::to_string(cs.lengths[i]) + " real elements (expected 1.." +
                                  std::to_string(cs.c) + ")");
}

}  // namespace

bool has_blas() { return blas_sgemm() != nullptr; }

void chunk_stage_forward(const ChunkStageShape& s, const ChunkStageParams& params, const ChunkSet& cs, float* out) {
  check_shape(s, cs);
  const WithTransposed wt(params);
  const ChunkStageParams& p = wt.p;
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

void chunk_stage_backward(const ChunkStageShape& s, const ChunkStageParams& params, const ChunkSet& cs,
                          const float* grad_out, const ChunkStageParams& grads) {
  check_shape(s, cs);
  const WithTransposed wt(params);
  const ChunkStageParams& p = wt.p;
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
