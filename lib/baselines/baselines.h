#pragma once
// The paper's architecture-agnostic baselines (sne-method.md section 8), each a WeightEncoder so that the
// same trainer, predictor, checkpoints and commands serve them:
//   FlatMLP   - an MLP on the flattened weights (one architecture: the input width is its parameter count);
//   DeepSets  - every weight of a network as one set: per-element MLP on (value, level and type encodings),
//               mean over the set, MLP;
//   StatNN    - per tensor mean, variance and the 0/25/50/75/100 % quantiles, concatenated in tensor order
//               (zero-padded up to max_tensors), then an MLP (Unterthiner et al. 2020).
#include <torch/nn/modules/container/sequential.h>

#include "encoder/weight_encoder.h"

namespace sne::baselines {

/// Linear+GELU layers of width `hidden` (`layers` of them), then a linear map to `out`.
torch::nn::Sequential mlp(int64_t in, int64_t hidden, int64_t layers, int64_t out);
/// The parameters mlp(in, hidden, layers, out) holds.
int64_t mlp_parameters(int64_t in, int64_t hidden, int64_t layers, int64_t out);

class FlatMLPImpl : public encoder::WeightEncoderImpl {
 public:
  FlatMLPImpl(int64_t num_params, int64_t hidden, int64_t layers, int64_t dim);
  torch::Tensor forward(const encoder::EncoderInput& in) override;
  int64_t dim() const override { return dim_; }
  int64_t num_params() const { return num_params_; }

 private:
  int64_t num_params_, dim_;
  torch::nn::Sequential net_{nullptr};
};

class DeepSetsImpl : public encoder::WeightEncoderImpl {
 public:
  static constexpr int64_t kPositionDim = 8;  ///< sinusoidal encoding width of a weight's layer level and type
  DeepSetsImpl(int64_t hidden, int64_t layers, int64_t dim);
  torch::Tensor forward(const encoder::EncoderInput& in) override;
  int64_t dim() const override { return dim_; }
  bool invariant_by_construction() const override { return true; }  // a set per network

 private:
  int64_t hidden_, dim_;
  torch::nn::Sequential phi_{nullptr}, rho_{nullptr};
};

class StatNNImpl : public encoder::WeightEncoderImpl {
 public:
  static constexpr int64_t kStats = 7;  ///< mean, variance, 5 quantiles
  StatNNImpl(int64_t max_tensors, int64_t hidden, int64_t layers, int64_t dim);
  torch::Tensor forward(const encoder::EncoderInput& in) override;
  int64_t dim() const override { return dim_; }
  bool invariant_by_construction() const override { return true; }  // statistics of each tensor's values
  int64_t max_tensors() const { return max_tensors_; }
  /// The statistics alone: [num_networks, max_tensors * kStats].
  torch::Tensor features(const encoder::EncoderInput& in) const;

 private:
  int64_t max_tensors_, dim_;
  torch::nn::Sequential net_{nullptr};
};

/// Network index of every tensor of the batch: [T] int64 on the batch's device.
torch::Tensor tensor_network(const encoder::EncoderInput& in);

}  // namespace sne::baselines
