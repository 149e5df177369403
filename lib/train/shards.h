#pragma once
// How a run's training data is cut for data parallelism. A run has S data shards (train.data_shards; 0 = the
// world size when the run starts), each a contiguous share of the training split with its own shuffled stream and
// batch size batch_size / S. Process r of W owns shards [r S / W, (r + 1) S / W), so a step's batch is the same
// set of networks whatever W divides S: a run can be resumed on another number of processes. S = 1 on one
// process is the plain single-process path.
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "train/collective.h"
#include "zoo/zoo_stream.h"

namespace sne::train {

struct ShardPlan {
  int64_t shards = 1;      ///< S
  int64_t first = 0;       ///< this process's shards: [first, first + owned)
  int64_t owned = 1;
  int64_t batch_size = 1;  ///< per shard
  bool sharded() const { return shards > 1; }

  /// ConfigError naming the key when S is not a multiple of `world` or batch_size not a multiple of S.
  static ShardPlan make(int64_t shards, int rank, int world, int64_t global_batch_size);
  /// ConfigError naming train.data_shards when `networks` (those of `what`) cannot give every shard one. Checked
  /// on every rank before any shard is read, so that all ranks fail alike.
  void require_networks(int64_t networks, const std::string& what) const;
};

/// The training batches of one process, step by step: one batch per owned shard (empty once that shard's epoch
/// has ended), for as many steps as the longest shard needs, on every process alike.
class EpochBatches {
 public:
  /// `options` describes the unsharded training stream; `collective` (may be null) tells every process the
  /// other shards' sizes.
  EpochBatches(std::shared_ptr<const zoo::ZooFile> zoo, const zoo::StreamOptions& options, const ShardPlan& plan,
               Collective* collective);
  int64_t steps_per_epoch() const { return steps_; }
  /// The networks of every shard together (the training set size).
  int64_t networks() const { return networks_; }
  void start_epoch(int64_t epoch);
  /// Fills parts[k] with owned shard k's next batch; false once the epoch's steps are done.
  bool next(std::vector<zoo::NetworkBatch>& parts);

 private:
  std::vector<std::unique_ptr<zoo::ZooStream>> streams_;
  std::vector<bool> done_;
  int64_t steps_ = 0, step_ = 0, networks_ = 0;
};

}  // namespace sne::train
