#pragma once
// What every weight reader is: a module mapping a packed batch of networks (any architectures) to one code
// vector per network. SNE (sne_encoder.h) and the baselines (lib/baselines) implement it, so the trainer, the
// checkpoints and the eval/encode commands serve them all alike.
#include <torch/nn/module.h>

#include "encoder/encoder_input.h"
#include "zoo/architecture.h"

namespace sne::encoder {

class WeightEncoderImpl : public torch::nn::Module {
 public:
  /// Codes z: [num_networks, dim()].
  virtual torch::Tensor forward(const EncoderInput& in) = 0;
  virtual int64_t dim() const = 0;
  /// True when every permutation within a parameter tensor (hence every symmetry a zoo spec can declare)
  /// leaves the codes unchanged by construction; the trainer then skips the logit-invariance term.
  virtual bool invariant_by_construction() const { return false; }
  /// True when the codes of networks of `spec` are unchanged by every symmetry the spec declares, by
  /// construction (whatever the weights); the trainer then skips the logit-invariance term, which would be 0.
  virtual bool invariant_to(const zoo::ArchitectureSpec& spec) const {
    (void)spec;
    return invariant_by_construction();
  }
  /// True when the last forward pass recorded a part whose backward recomputes it and back-propagates through
  /// it in a nested backward pass (activation checkpointing): each parameter's gradient is then accumulated
  /// more than once per backward, and is final only when the whole backward pass has returned.
  virtual bool recomputes_in_backward() const { return false; }
};

}  // namespace sne::encoder
