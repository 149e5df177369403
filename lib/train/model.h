#pragma once
// The trained model: a weight encoder (SNE, or one of the baselines in lib/baselines) and the predictor MLP
// on its code z. `model` in the config picks the encoder; everything else (trainer, checkpoints, eval,
// encode) is the same for all of them.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <string>

#include "config/config.h"
#include "core/json.h"
#include "encoder/sne_encoder.h"
#include "encoder/weight_encoder.h"
#include "zoo/zoo_file.h"

namespace sne::train {

encoder::EncoderOptions encoder_options(const config::EncoderSettings& s);

/// What a model needs to know of the zoo beyond its config; fixed when training starts, kept in checkpoints.
struct ModelShape {
  int64_t num_params = 0;   ///< mlp: parameters of the one architecture it reads
  int64_t max_tensors = 0;  ///< statnn: the most parameter tensors a network may have
  Json to_json() const;
  static ModelShape from_json(const Json* j);  ///< null (a checkpoint without it): the empty shape
};

/// The shape `c.model` needs for the networks of `split` in `zoo`. DataError when they cannot be read by it
/// (the mlp baseline and more than one architecture).
ModelShape model_shape(const config::Config& c, const zoo::ZooFile& zoo, const std::string& split);

/// DataError naming the zoo and split when a model of this kind and shape cannot read its networks
/// ("" = every network).
void require_readable(const config::Config& c, const ModelShape& shape, const zoo::ZooFile& zoo,
                      const std::string& split);

class ModelImpl : public torch::nn::Module {
 public:
  ModelImpl(std::shared_ptr<encoder::WeightEncoderImpl> encoder, int64_t predictor_hidden, int64_t predictor_layers);
  /// The prediction on the model's scale (standardised target, or a logit for bce): [N].
  torch::Tensor forward(const encoder::EncoderInput& in);
  /// The network codes z: [N, dim].
  torch::Tensor encode(const encoder::EncoderInput& in) { return encoder_->forward(in); }
  /// Whether the model is invariant by construction to every symmetry of every one of `archs`.
  bool invariant_to(const std::vector<zoo::ArchitectureSpec>& archs) const;
  /// See WeightEncoderImpl::recomputes_in_backward (about the last forward pass).
  bool recomputes_in_backward() const { return encoder_->recomputes_in_backward(); }

 private:
  std::shared_ptr<encoder::WeightEncoderImpl> encoder_;
  torch::nn::Sequential predictor_{nullptr};
};
TORCH_MODULE(Model);

Model make_model(const config::Config& c, const ModelShape& shape = {});

/// Trainable parameters of a module (for tables and logs).
int64_t count_parameters(const torch::nn::Module& m);

/// The parameters make_model(c, shape) would hold, computed without building it (mirrors the constructors;
/// tests/train check it against the built models).
int64_t model_parameters(const config::Config& c, const ModelShape& shape);

/// ConfigError, before anything is allocated, when the model's parameters at `bytes_per_parameter` (16 for
/// training: weights, gradients, AdamW's two moments; 4 to evaluate) exceed `available_bytes` (this machine's
/// memory: physical or its cgroup's limit when one is set), naming the settings that size it. Linux grants
/// such an allocation and then kills the process mid-way, so it must be refused before.
void require_model_fits(const config::Config& c, const ModelShape& shape, int bytes_per_parameter,
                        int64_t available_bytes = -1);

/// This machine's memory for one process: the smaller of the physical memory and the cgroup's limit.
int64_t machine_memory_bytes();

}  // namespace sne::train
