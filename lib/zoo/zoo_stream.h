#pragma once
// Streams batches of networks from a zoo with memory bounded independently of the file size. Weights are
// read in windows of consecutive rows (aligned to the HDF5 chunks) on a background I/O thread; shuffling
// permutes the window order and draws networks at random from a small pool of loaded windows.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "zoo/zoo_file.h"

namespace sne::zoo {

struct StreamOptions {
  std::string split;                       ///< "" = every network
  std::vector<std::string> architectures;  ///< empty = all
  std::vector<std::string> properties;     ///< property columns delivered with each batch
  int64_t batch_size = 64;
  bool shuffle = false;
  uint64_t seed = 0;                       ///< shuffling seed; epoch e uses a stream derived from (seed, e)
  bool group_by_architecture = false;      ///< true: a batch never mixes architectures
  bool drop_last = false;                  ///< drop a final batch smaller than batch_size
  /// Bound on the buffered weight windows (shuffle pool + prefetch queue). The two batches in flight (the one
  /// being filled and the caller's) come on top: 2 * batch_size * params * 4 bytes.
  int64_t memory_budget_bytes = int64_t{256} << 20;
  bool prefetch = true;                    ///< read on a background thread
  double subset_fraction = 1.0;            ///< < 1: keep a random subset of this fraction of the selection, the
  uint64_t subset_seed = 0;                ///< same every epoch, drawn with subset_seed (see subset_of)
  bool skip_unknown = false;               ///< leave out networks whose requested properties are unknown (NaN)
  int64_t shard_index = 0;                 ///< this reader's contiguous share of the selection ...
  int64_t num_shards = 1;                  ///< ... out of num_shards (for array jobs and data parallelism)
  /// > 1: shard boundaries fall on multiples of this many networks of the selection. With shard_align =
  /// batch_size and no shuffling, every batch of a shard is a batch of the unsharded stream, so a sharded
  /// computation sees the very batches (and float rounding) of an unsharded one (sne encode --shard). When
  /// there are fewer such blocks than shards, the boundaries are those of shard_align = 1.
  int64_t shard_align = 1;
};

/// A random subset of round(fraction * size) networks (at least 1) of `ids`, in ascending order; the subset
/// depends only on (ids, fraction, seed), and a smaller fraction's subset is contained in a larger one's.
std::vector<int64_t> subset_of(const std::vector<int64_t>& ids, double fraction, uint64_t seed);

/// The networks of `ids` whose `property` is known (not NaN), in their order.
std::vector<int64_t> with_known(const ZooFile& file, const std::vector<int64_t>& ids, const std::string& property);

/// The order an unshuffled stream delivers networks in: by architecture, then by row in the file.
bool delivered_before(const ZooFile& file, int64_t a, int64_t b);

/// A batch of networks, possibly of different architectures.
struct NetworkBatch {
  std::vector<int64_t> index;     ///< network index in the file, [n]
  std::vector<int32_t> arch;      ///< architecture index, [n]
  std::vector<int64_t> offset;    ///< start of network i's weights in `params`, [n + 1]
  std::vector<float> params;      ///< all weights, concatenated, float32
  std::vector<double> properties; ///< [n, num requested properties] row-major; NaN = unknown

  int64_t size() const { return static_cast<int64_t>(index.size()); }
  const float* params_of(int64_t i) const { return params.data() + offset[static_cast<std::size_t>(i)]; }
  int64_t num_params_of(int64_t i) const {
    return offset[static_cast<std::size_t>(i) + 1] - offset[static_cast<std::size_t>(i)];
  }
  void clear();
};

class ZooStream {
 public:
  /// Throws DataError for an unknown split/architecture/property, a split naming missing networks, or an empty
  /// selection; std::invalid_argument for bad options.
  ZooStream(std::shared_ptr<const ZooFile> file, StreamOptions options);
  ~ZooStream();
  ZooStream(const ZooStream&) = delete;
  ZooStream& operator=(const ZooStream&) = delete;

  /// Networks delivered per epoch.
  int64_t size() const { return static_cast<int64_t>(selection_.size()); }
  /// (Re)starts an epoch; the shuffle order depends on (seed, epoch) only. next() starts epoch 0 implicitly.
  void start_epoch(int64_t epoch);
  /// Fills `batch` with the next batch; false at the end of the epoch.
  bool next(NetworkBatch& batch);

  /// Rows per read window and how many windows may be buffered at once (for memory accounting).
  int64_t window_rows(int arch) const { return window_rows_[static_cast<std::size_t>(arch)]; }
  int64_t max_buffered_windows() const;
  const StreamOptions& options() const { return options_; }

 private:
  struct Window {
    int arch;
    int64_t row_begin, row_end;
    std::vector<int64_t> members;  // positions in selection_, ascending row
  };
  struct Impl;

  std::shared_ptr<const ZooFile> file_;
  StreamOptions options_;
  std::vector<int64_t> selection_;        // network indices
  std::vector<double> selected_props_;    // [selection, properties]
  std::vector<int64_t> window_rows_;      // per architecture
  std::vector<Window> windows_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sne::zoo
