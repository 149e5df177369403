#pragma once
// What the generators share about their output file: the check that an existing zoo holds the same recipe, and
// opening the output to append to (resume) or creating it.
#include <functional>
#include <memory>
#include <string>

#include "core/json.h"
#include "zoo/zoo_file.h"
#include "zoo/zoo_writer.h"

namespace sne::generators {

/// "" when `existing` (a zoo's provenance) was made by `generator` with every key of `wanted["recipe"]` equal,
/// else a sentence naming what differs ("the recipe differs in epochs 4 vs 86").
std::string recipe_difference(const Json& existing, const Json& wanted, const std::string& generator);

/// The writer of a generator's output. An existing file must be a readable zoo of the same recipe (else IoError
/// naming what differs); `read_existing` sees it before it is reopened for appending. A missing file is created
/// with `provenance`, its parent folders too.
std::unique_ptr<zoo::ZooWriter> open_generator_output(const std::string& path, const Json& provenance,
                                                      const std::string& generator,
                                                      const std::function<void(const zoo::ZooFile&)>& read_existing);

}  // namespace sne::generators
