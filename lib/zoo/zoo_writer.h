#pragma once
// Creates a model-zoo file or appends networks to one (docs/zoo-format.md). Rows are buffered and written in
// blocks; `flush()` makes everything appended so far durable and readable, so a generator that flushes after
// each batch can be interrupted and resumed without losing finished networks.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/json.h"
#include "core/lock.h"
#include "zoo/architecture.h"

namespace sne::zoo {

using MetaValue = std::variant<double, std::string>;
using Properties = std::vector<std::pair<std::string, double>>;
using Metadata = std::vector<std::pair<std::string, MetaValue>>;

struct WriterOptions {
  int gzip_level = 0;              ///< 0 = uncompressed (fastest to read); 1..9 = gzip with shuffle
  int64_t buffer_bytes = 8 << 20;  ///< buffered weights before an automatic flush
  bool overwrite = false;          ///< create: replace an existing file instead of refusing
};

class ZooWriter {
 public:
  using Options = WriterOptions;

  /// Creates a new zoo. Throws IoError when the path exists (unless overwrite) or cannot be written.
  static std::unique_ptr<ZooWriter> create(const std::string& path, const Json& provenance,
                                           Options options = {});
  /// Opens an existing zoo to append to it (checks it like ZooFile::open). A flush that a full disk or a kill cut
  /// short leaves /networks/* of unequal lengths or params rows no network owns: these torn ends are cut back to
  /// the networks every dataset holds, so appending continues from the last whole flush.
  static std::unique_ptr<ZooWriter> open_append(const std::string& path, Options options = {});

  /// What open_append does first: cuts the torn end of an interrupted flush (see there). The caller holds the
  /// output's lock. DataError when `path` is not an HDF5 file; other damage is left for ZooFile::open to name.
  static void repair_torn_tail(const std::string& path);

  ~ZooWriter();  ///< flushes; errors there are logged to stderr, call close() to see them as exceptions
  ZooWriter(const ZooWriter&) = delete;
  ZooWriter& operator=(const ZooWriter&) = delete;

  /// Registers an architecture (or finds an identical one already in the file) and returns its index.
  /// Throws DataError for an invalid spec or a different spec under the same name.
  int add_architecture(const ArchitectureSpec& spec);
  const std::vector<ArchitectureSpec>& architectures() const { return archs_; }

  /// Appends one network; `params` holds the architecture's num_params() floats in PyTorch order.
  /// Returns its network index. Properties missing here are stored as NaN; metadata as NaN or "".
  int64_t append(int arch, const float* params, const Properties& properties = {}, const Metadata& metadata = {});

  /// Replaces a split. Indices must name existing (or already appended) networks; stored sorted and unique.
  void set_split(const std::string& name, std::vector<int64_t> indices);
  void set_provenance(const Json& provenance);
  const Json& provenance() const { return provenance_; }

  int64_t num_networks() const { return flushed_ + static_cast<int64_t>(pending_arch_.size()); }
  const std::string& path() const { return path_; }

  /// Writes buffered networks and flushes the file to disk.
  void flush();
  /// Flushes and closes; the writer is unusable afterwards.
  void close();

 private:
  ZooWriter() = default;
  struct Handles;
  struct Column {
    bool is_string = false;
    bool on_disk = false;
    std::vector<double> numbers;       // pending values
    std::vector<std::string> strings;  // pending values
  };
  void write_pending();
  void write_pending_unchecked();

  OutputLock lock_;  ///< first member, so released last: PATH.lock, one writer per zoo
  std::unique_ptr<Handles> h_;
  std::string path_;
  Options options_;
  Json provenance_;
  std::vector<ArchitectureSpec> archs_;
  std::vector<int64_t> arch_rows_;            // rows including pending
  std::vector<std::vector<float>> pending_rows_;
  std::vector<int32_t> pending_arch_;
  std::vector<int64_t> pending_row_;
  std::map<std::string, Column> properties_, metadata_;
  int64_t flushed_ = 0;
  int64_t pending_bytes_ = 0;
  bool closed_ = false;
  bool failed_ = false;  ///< a write failed (a full disk): nothing more is written, the destructor stays quiet
};

/// Checks a name used for an architecture, property, metadata column or split ([A-Za-z0-9_.+-]+).
bool is_valid_name(const std::string& name);

}  // namespace sne::zoo
