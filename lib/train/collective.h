#pragma once
// What the trainer needs from the processes it trains with: a rank, a world size and three collectives. The
// library's trainer depends only on this interface; lib/distributed/ implements it on torch.distributed (c10d),
// and a single process passes none. Every call is made by every rank in the same order; a failed or timed-out
// collective throws DistributedError naming the rank that stopped answering when that can be told.
#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

namespace sne::train {

class Collective {
 public:
  /// A collective in flight.
  class Pending {
   public:
    virtual ~Pending() = default;
    /// Returns once it is done (DistributedError when it failed).
    virtual void wait() = 0;
  };

  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Sums each tensor (contiguous, CPU or the model's device) over the ranks, in place. The tensors are reduced
  /// concurrently; the call returns when all are done.
  virtual void allreduce_sum(std::vector<at::Tensor>& tensors) = 0;
  /// Starts summing `tensor` in place and returns at once; collectives run in the order they were started,
  /// which must be the same on every rank.
  virtual std::unique_ptr<Pending> start_allreduce_sum(at::Tensor tensor) = 0;
  /// Replaces each tensor by rank `root`'s.
  virtual void broadcast(std::vector<at::Tensor>& tensors, int root) = 0;
  /// Returns once every rank has called it.
  virtual void barrier() = 0;
};

}  // namespace sne::train
