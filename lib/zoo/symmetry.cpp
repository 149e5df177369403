#include "zoo/symmetry.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace sne::zoo {

void permute_units(const ArchitectureSpec& spec, std::size_t symmetry, const std::vector<int64_t>& perm, float* params) {
  const Symmetry& s = spec.symmetries.at(symmetry);
  if (static_cast<int64_t>(perm.size()) != s.size)
    throw std::invalid_argument("symmetry '" + s.name + "' has " + std::to_string(s.size) + " units, permutation has " +
                                std::to_string(perm.size()));
  for (const auto& a : s.actions) {
    const TensorSpec* t = spec.find_tensor(a.tensor);
    if (!t) throw std::invalid_argument("symmetry '" + s.name + "' acts on unknown tensor '" + a.tensor + "'");
    // View the tensor as [outer, axis, inner]; unit i's block is axis indices [offset + i*block, ... + block).
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < a.axis; ++d) outer *= t->shape[static_cast<std::size_t>(d)];
    for (std::size_t d = static_cast<std::size_t>(a.axis) + 1; d < t->shape.size(); ++d) inner *= t->shape[d];
    const int64_t axis_len = t->shape[static_cast<std::size_t>(a.axis)];
    float* base = params + t->offset;
    const std::vector<float> before(base, base + t->numel());
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < s.size; ++i)
        for (int64_t j = 0; j < a.block; ++j) {
          const int64_t from = a.offset + i * a.block + j, to = a.offset + perm[static_cast<std::size_t>(i)] * a.block + j;
          std::copy_n(before.data() + (o * axis_len + from) * inner, inner, base + (o * axis_len + to) * inner);
        }
  }
}

void random_symmetry_transform(const ArchitectureSpec& spec, std::mt19937_64& rng, float* params) {
  for (std::size_t k = 0; k < spec.symmetries.size(); ++k) {
    std::vector<int64_t> perm(static_cast<std::size_t>(spec.symmetries[k].size));
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    permute_units(spec, k, perm, params);
  }
}

}  // namespace sne::zoo
