#pragma once
// What `sne zoo info` and `sne zoo validate` compute: a summary of a zoo and a deep consistency check.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/json.h"
#include "zoo/zoo_file.h"

namespace sne::zoo {

struct PropertyStats {
  std::string name;
  int64_t known = 0;  ///< networks with a finite value
  double min = 0, mean = 0, max = 0;
};

struct ZooSummary {
  std::string path;
  int64_t format_version = 0;
  std::string created_by;
  Json provenance;
  int64_t networks = 0;
  struct Arch {
    std::string name;
    int index;
    int64_t networks;
    int64_t params;
    int64_t layers;
    int64_t symmetries;
  };
  std::vector<Arch> architectures;
  std::vector<PropertyStats> properties;
  std::vector<std::pair<std::string, std::string>> metadata;  ///< name, "number" | "string"
  std::vector<std::pair<std::string, int64_t>> splits;        ///< name, size
};

/// Reads the per-network columns (not the weights) and summarises them.
ZooSummary summarize(const ZooFile& zoo);
Json to_json(const ZooSummary& s);
/// Human-readable multi-line text.
std::string to_text(const ZooSummary& s);

struct CheckReport {
  std::vector<std::string> problems;  ///< each a sentence naming the dataset / networks concerned
  int64_t networks_scanned = 0;
  bool ok() const { return problems.empty(); }
};

/// Deep check: the network index (rows in range, each row used once), non-finite weights (scanned in bounded
/// memory, naming the networks), infinite property values, and split consistency (indices exist, strictly
/// increasing, train/validation/test disjoint). `progress(done, total)` is called while weights are scanned.
CheckReport check_zoo(std::shared_ptr<const ZooFile> zoo, int64_t memory_budget_bytes,
                      const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace sne::zoo
