#include "train/shards.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "core/error.h"

namespace sne::train {

ShardPlan ShardPlan::make(int64_t shards, int rank, int world, int64_t global_batch_size) {
  if (shards < 1) throw ConfigError("train.data_shards must be at least 1 (0 = the number of processes)");
  if (shards % world != 0)
    throw ConfigError("train.data_shards (" + std::to_string(shards) + ") must be a multiple of the number of processes (" +
                      std::to_string(world) + "); each process owns the same number of data shards");
  if (global_batch_size % shards != 0)
    throw ConfigError("zoo.reader.batch_size (" + std::to_string(global_batch_size) +
                      ") must be a multiple of train.data_shards (" + std::to_string(shards) +
                      "): each data shard contributes batch_size / data_shards networks to a step");
  ShardPlan p;
  p.shards = shards;
  p.owned = shards / world;
  p.first = rank * p.owned;
  p.batch_size = global_batch_size / shards;
  return p;
}

void ShardPlan::require_networks(int64_t networks, const std::string& what) const {
  if (networks < shards)
    throw ConfigError("train.data_shards (" + std::to_string(shards) + ") is more than the " + std::to_string(networks) +
                      " networks of " + what + ": every data shard needs at least one; use fewer shards");
}

EpochBatches::EpochBatches(std::shared_ptr<const zoo::ZooFile> zoo, const zoo::StreamOptions& options,
                           const ShardPlan& plan, Collective* collective) {
  at::Tensor sizes = at::zeros({plan.shards}, at::kLong);
  for (int64_t k = 0; k < plan.owned; ++k) {
    zoo::StreamOptions o = options;
    o.batch_size = plan.batch_size;
    o.num_shards = plan.shards;
    o.shard_index = plan.first + k;
    streams_.push_back(std::make_unique<zoo::ZooStream>(zoo, o));
    sizes[o.shard_index] = streams_.back()->size();
  }
  if (collective && collective->size() > 1) {
    std::vector<at::Tensor> t{sizes};
    collective->allreduce_sum(t);
  }
  for (int64_t s = 0; s < plan.shards; ++s) {
    const int64_t n = sizes[s].item<int64_t>();
    networks_ += n;
    steps_ = std::max(steps_, (n + plan.batch_size - 1) / plan.batch_size);
  }
  done_.assign(streams_.size(), false);
}

void EpochBatches::start_epoch(int64_t epoch) {
  for (auto& s : streams_) s->start_epoch(epoch);
  done_.assign(streams_.size(), false);
  step_ = 0;
}

bool EpochBatches::next(std::vector<zoo::NetworkBatch>& parts) {
  if (step_ == steps_) return false;
  parts.resize(streams_.size());
  for (std::size_t k = 0; k < streams_.size(); ++k) {
    if (done_[k] || !streams_[k]->next(parts[k])) {
      done_[k] = true;
      parts[k].clear();
    }
  }
  ++step_;
  return true;
}

}  // namespace sne::train
