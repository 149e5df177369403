#pragma once
// A run's metrics.jsonl: one JSON record per finished epoch, appended after the epoch's checkpoints are written
// and before `last` is. A process killed between the two (or while appending) leaves a record that `last` does
// not know of, or a torn line; resuming from `last` first cuts the log back to the epochs `last` holds.
#include <cstdint>
#include <string>

#include "core/json.h"

namespace sne::train {

/// Appends `record` as one line; IoError naming the file when it cannot (a full disk included).
void append_metrics_record(const std::string& path, const Json& record);

/// Keeps the records of epochs 1..`epoch`, each once and in order; drops later epochs, repeated epochs and lines
/// that are not a whole record. Rewrites the file atomically, and only when something is dropped. A missing
/// file is left missing.
void trim_metrics_log(const std::string& path, int64_t epoch);

}  // namespace sne::train
