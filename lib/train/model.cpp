#include "train/model.h"

#include <torch/torch.h>

namespace sne::train {

encoder::EncoderOptions encoder_options(const config::EncoderSettings& s) {
  encoder::EncoderOptions o;
  o.blocks.dim = s.dim;
  o.blocks.heads = s.heads;
  o.blocks.ff_mult = s.ff_mult;
  o.blocks.pre_ln = s.pre_ln;
  o.blocks.pma_seed_residual = s.pma_seed_residual;
  o.chunk_size = s.chunk_size;
  o.chunk_budget = s.chunk_budget;
  o.value_embedding = s.value_embedding;
  o.fourier_bands = s.fourier_bands;
  o.level_encoding = s.level_encoding;
  o.type_encoding = s.type_encoding;
  o.role_encoding = s.role_encoding;
  o.set_functions = s.set_functions;
  o.hierarchy = s.hierarchy;
  return o;
}

SNEModelImpl::SNEModelImpl(const encoder::EncoderOptions& enc, int64_t hidden, int64_t layers) {
  encoder_ = register_module("encoder", encoder::SNEEncoder(enc));
  predictor_ = torch::nn::Sequential();
  int64_t width = enc.blocks.dim;
  for (int64_t k = 0; k < layers; ++k) {
    predictor_->push_back(torch::nn::Linear(width, hidden));
    predictor_->push_back(torch::nn::GELU());
    width = hidden;
  }
  predictor_->push_back(torch::nn::Linear(width, 1));
  register_module("predictor", predictor_);
}

torch::Tensor SNEModelImpl::forward(const encoder::EncoderInput& in) {
  return predictor_->forward(encoder_->forward(in)).squeeze(1);
}

SNEModel make_model(const config::Config& c) {
  return SNEModel(encoder_options(c.encoder), c.predictor.hidden, c.predictor.layers);
}

}  // namespace sne::train
