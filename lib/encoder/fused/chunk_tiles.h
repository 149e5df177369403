#pragma once
// How the chunk-stage kernel (chunk_kernel.cpp) cuts its chunks into tiles and where a tile's activations live:
// per-thread buffers that grow to the largest tile and are reused from call to call. Internal to
// lib/encoder/fused.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "encoder/fused/chunk_kernel.h"

namespace sne::encoder::kernels::detail {

// ---- one tile of chunks ----
constexpr int64_t kTileRows = 256;  // real rows per tile: the activations of a tile stay in the L2/L3 caches

struct Tile {
  int64_t first = 0, count = 0;   // chunks [first, first + count)
  int64_t rows = 0, pairs = 0;    // real rows; attention weights per head (see attention_forward)
};

inline std::vector<Tile> make_tiles(const ChunkSet& cs) {
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

inline Workspace& workspace() {
  thread_local Workspace ws;
  return ws;
}

}  // namespace sne::encoder::kernels::detail
