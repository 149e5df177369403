#pragma once
// Function-preserving transformations derived from an architecture's symmetry spec (docs/zoo-format.md):
// permuting the units of a symmetry moves, along every action's axis, the unit blocks to their new places.
// Used by the logit-invariance regulariser and by tests for every architecture a zoo describes.
#include <cstdint>
#include <random>
#include <vector>

#include "zoo/architecture.h"

namespace sne::zoo {

/// Applies permutation `perm` (unit i goes to position perm[i]) of symmetry `symmetry` to the flat weights
/// `params` (spec.num_params() floats, in place). Throws std::invalid_argument for a wrong permutation size.
void permute_units(const ArchitectureSpec& spec, std::size_t symmetry, const std::vector<int64_t>& perm, float* params);

/// Applies an independent uniformly random permutation of every symmetry of the spec, in place.
void random_symmetry_transform(const ArchitectureSpec& spec, std::mt19937_64& rng, float* params);

}  // namespace sne::zoo
