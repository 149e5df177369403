#pragma once
// Sharded `sne encode` (one part file per shard, e.g. one per task of a SLURM array job) and the merge of the
// parts into the one embeddings file an unsharded encode writes: the same rows in the same order, the same
// datasets and provenance.
#include <functional>
#include <string>

#include "zoo/zoo_file.h"

namespace sne::zoo {

/// Part i of n of the embeddings file `out`: "OUT.part-I-of-N".
std::string embedding_part_path(const std::string& out, int shard, int shards);

/// The zoo the parts of `out` were encoded from, as their provenance names it.
std::string encoded_zoo_path(const std::string& out);

/// Merges every part of `out` into `out`, streaming (a few thousand rows of each part in memory). The parts must
/// be all n of one sharded encode of `zoo`: DataError naming the file for a missing, foreign or inconsistent part.
/// Writes OUT.tmp and renames it (IoError when OUT exists and !overwrite). Returns the rows written.
/// `remove_parts` deletes the parts once OUT is in place.
int64_t merge_embedding_parts(const std::string& out, const ZooFile& zoo, bool overwrite, bool remove_parts,
                              const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace sne::zoo
