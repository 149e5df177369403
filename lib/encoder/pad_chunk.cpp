#include "encoder/pad_chunk.h"

#include <algorithm>
#include <stdexcept>

namespace sne::encoder {

Chunks pad_chunk(const std::vector<at::Tensor>& flat_tensors, int64_t c) {
  if (c < 1) throw std::invalid_argument("chunk size must be >= 1, got " + std::to_string(c));
  Chunks out;
  out.first_chunk.push_back(0);
  for (const auto& t : flat_tensors) {
    const int64_t n = t.numel();
    out.numel.push_back(n);
    out.first_chunk.push_back(out.first_chunk.back() + (n + c - 1) / c);
  }
  const int64_t total = out.first_chunk.back();
  const auto opts = flat_tensors.empty() ? at::TensorOptions() : flat_tensors.front().options();
  // One padded buffer: copy every tensor to its chunk offset, then view as [total, c].
  at::Tensor flat = at::zeros({total * c}, opts.dtype(at::kFloat));
  at::Tensor real = at::zeros({total * c}, opts.dtype(at::kBool));
  std::vector<int64_t> owner(static_cast<std::size_t>(total));
  std::vector<int32_t> lengths(static_cast<std::size_t>(total));
  std::vector<int64_t> start(static_cast<std::size_t>(total));
  for (std::size_t t = 0; t < flat_tensors.size(); ++t) {
    const int64_t begin = out.first_chunk[t] * c, n = out.numel[t];
    if (n == 0) continue;
    flat.narrow(0, begin, n).copy_(flat_tensors[t].reshape({-1}));
    real.narrow(0, begin, n).fill_(true);
    for (int64_t k = out.first_chunk[t]; k < out.first_chunk[t + 1]; ++k) {
      owner[static_cast<std::size_t>(k)] = static_cast<int64_t>(t);
      lengths[static_cast<std::size_t>(k)] = static_cast<int32_t>(std::min(c, n - (k - out.first_chunk[t]) * c));
      start[static_cast<std::size_t>(k)] = (k - out.first_chunk[t]) * c;
    }
  }
  out.values = flat.view({total, c});
  out.mask = real.view({total, c});
  out.owner = at::tensor(owner, at::kLong).to(opts.device());
  out.lengths = at::tensor(lengths, at::kInt).to(opts.device());
  out.start = at::tensor(start, at::kLong).to(opts.device());
  return out;
}

std::vector<at::Tensor> unpad(const Chunks& chunks) {
  std::vector<at::Tensor> out;
  const int64_t c = chunks.values.size(1);
  const at::Tensor flat = chunks.values.reshape({-1});
  for (std::size_t t = 0; t < chunks.numel.size(); ++t)
    out.push_back(flat.narrow(0, chunks.first_chunk[t] * c, chunks.numel[t]).clone());
  return out;
}

namespace {

/// One action of a permutation symmetry on a tensor of `shape` (flat, row-major), chunks of c from its start.
bool action_preserves_chunks(const std::vector<int64_t>& shape, const zoo::SymmetryAction& a, int64_t units, int64_t c) {
  if (units < 2) return true;  // nothing moves
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < a.axis; ++d) outer *= shape[static_cast<std::size_t>(d)];
  for (std::size_t d = static_cast<std::size_t>(a.axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  const int64_t n = shape[static_cast<std::size_t>(a.axis)];
  // Whole chunks: every unit's slab (block * inner contiguous elements per outer index) starts on a chunk
  // boundary and is a whole number of chunks, so a permutation moves chunks onto chunks.
  const bool slabs_aligned = (a.block * inner) % c == 0 && (a.offset * inner) % c == 0 && (outer == 1 || (n * inner) % c == 0);
  if (slabs_aligned) return true;
  // Within one chunk: for each outer index, the moved range lies inside a single chunk.
  for (int64_t o = 0; o < outer; ++o) {
    const int64_t first = (o * n + a.offset) * inner, last = first + units * a.block * inner - 1;
    if (first / c != last / c) return false;
  }
  return true;
}

}  // namespace

bool symmetries_preserve_chunks(const zoo::ArchitectureSpec& spec, int64_t c) {
  if (c < 1) throw std::invalid_argument("chunk size must be >= 1, got " + std::to_string(c));
  for (const zoo::Symmetry& s : spec.symmetries) {
    if (s.kind != "permutation") return false;
    for (const zoo::SymmetryAction& a : s.actions) {
      const zoo::TensorSpec* t = spec.find_tensor(a.tensor);
      if (t == nullptr || a.axis < 0 || static_cast<std::size_t>(a.axis) >= t->shape.size()) return false;
      if (!action_preserves_chunks(t->shape, a, s.size, c)) return false;
    }
  }
  return true;
}

}  // namespace sne::encoder
