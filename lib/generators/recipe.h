#pragma once
// What the generators share about a zoo's provenance: the check that an existing file holds the same recipe
// before a generator appends to it.
#include <string>

#include "core/json.h"

namespace sne::generators {

/// "" when `existing` (a zoo's provenance) was made by `generator` with every key of `wanted["recipe"]` equal,
/// else a sentence naming what differs ("the recipe differs in epochs 4 vs 86").
std::string recipe_difference(const Json& existing, const Json& wanted, const std::string& generator);

}  // namespace sne::generators
