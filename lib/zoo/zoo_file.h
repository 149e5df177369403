#pragma once
// Read access to a model-zoo file (docs/zoo-format.md): its header, architectures, per-network index,
// properties, metadata, splits and weights. Weight rows are read on demand (see zoo_stream.h for batches).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "zoo/architecture.h"

namespace sne::zoo {

inline constexpr const char* kFormatName = "sne-zoo";
inline constexpr int64_t kFormatVersion = 1;

/// A per-network metadata column: numeric (NaN = unknown) or string ("" = unknown).
struct MetadataColumn {
  std::string name;
  bool is_string = false;
  std::vector<double> numbers;
  std::vector<std::string> strings;
};

class ZooFile {
 public:
  /// Opens and checks the structure (header, version, specs, dataset shapes against the specs, index lengths).
  /// Throws DataError naming the file and the offending object.
  static std::shared_ptr<ZooFile> open(const std::string& path);
  ~ZooFile();

  const std::string& path() const { return path_; }
  int64_t format_version() const { return format_version_; }
  const Json& provenance() const { return provenance_; }
  std::string created_by() const { return created_by_; }

  const std::vector<ArchitectureSpec>& architectures() const { return archs_; }
  /// Architecture index by name; throws DataError listing the known names.
  int architecture_index(const std::string& name) const;
  /// Rows stored for each architecture.
  const std::vector<int64_t>& rows_per_architecture() const { return arch_rows_; }
  /// HDF5 chunk height (rows) of each architecture's params dataset.
  const std::vector<int64_t>& chunk_rows() const { return chunk_rows_; }

  int64_t num_networks() const { return num_networks_; }
  /// Architecture index and params row of every network (length N each).
  const std::vector<int32_t>& network_architecture() const { return net_arch_; }
  const std::vector<int64_t>& network_row() const { return net_row_; }

  const std::vector<std::string>& property_names() const { return property_names_; }
  const std::vector<std::string>& metadata_names() const { return metadata_names_; }
  const std::vector<std::string>& split_names() const { return split_names_; }
  bool has_property(const std::string& name) const;

  /// Whole columns (length N). Throw DataError naming the file and the known names when absent.
  std::vector<double> property(const std::string& name) const;
  MetadataColumn metadata(const std::string& name) const;
  /// Whether a metadata column holds strings, from its type alone (no value is read).
  bool metadata_is_string(const std::string& name) const;
  /// Network indices of a split as stored (not checked; see check_zoo).
  std::vector<int64_t> split(const std::string& name) const;

  /// Reads `count` consecutive rows of one architecture's params into `out` (count * P floats).
  void read_rows(int arch, int64_t row0, int64_t count, float* out) const;
  /// Values of the given properties for networks [begin, begin+count), as one vector per property.
  std::vector<std::vector<double>> property_range(const std::vector<std::string>& names, int64_t begin,
                                                  int64_t count) const;
  /// The weights of one network.
  std::vector<float> network_params(int64_t index) const;

 private:
  ZooFile() = default;
  struct Handles;
  std::unique_ptr<Handles> h_;
  std::string path_;
  int64_t format_version_ = 0;
  std::string created_by_;
  Json provenance_;
  std::vector<ArchitectureSpec> archs_;
  std::vector<int64_t> arch_rows_, chunk_rows_;
  int64_t num_networks_ = 0;
  std::vector<int32_t> net_arch_;
  std::vector<int64_t> net_row_;
  std::vector<std::string> property_names_, metadata_names_, split_names_;
};

/// HDF5 1.10 trusts some structures of a file (the global heap of variable-length strings, for one) and can
/// crash on a damaged one. These let a signal handler tell such a crash from a defect of sne and name the file
/// (apps/sne/signals.cpp); all three are async-signal-safe except hdf5_no_exit_cleanup, which must be called
/// before any other HDF5 use and turns off the library's clean-up at exit.
void hdf5_no_exit_cleanup();
bool hdf5_busy();                  ///< whether this thread is inside an HDF5 call now
const char* hdf5_current_file();   ///< what it reads there ("FILE" or "FILE: /dataset")
/// For a watchdog thread: how long the HDF5 call now running on any thread has run, seconds (0: none), and
/// what file it was last reading.
double hdf5_call_seconds();
const char* hdf5_last_file();

}  // namespace sne::zoo
