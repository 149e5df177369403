#pragma once
// The trained model: the SNE encoder and the predictor MLP on its code z.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include "config/config.h"
#include "encoder/sne_encoder.h"

namespace sne::train {

encoder::EncoderOptions encoder_options(const config::EncoderSettings& s);

class SNEModelImpl : public torch::nn::Module {
 public:
  SNEModelImpl(const encoder::EncoderOptions& enc, int64_t predictor_hidden, int64_t predictor_layers);
  /// The prediction on the model's scale (standardised target, or a logit for bce): [N].
  torch::Tensor forward(const encoder::EncoderInput& in);
  /// The network codes z: [N, dim].
  torch::Tensor encode(const encoder::EncoderInput& in) { return encoder_->forward(in); }

 private:
  encoder::SNEEncoder encoder_{nullptr};
  torch::nn::Sequential predictor_{nullptr};
};
TORCH_MODULE(SNEModel);

SNEModel make_model(const config::Config& c);

}  // namespace sne::train
