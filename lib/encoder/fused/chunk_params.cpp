// The chunk stage's parameters as the kernel sees them: their sizes, in the order the encoder lists them
// (SNEEncoderImpl::chunk_stage_parameters), bound to pointers and back.
#include <stdexcept>
#include <string>

#include "encoder/fused/chunk_kernel.h"

namespace sne::encoder::kernels {

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

}  // namespace sne::encoder::kernels
