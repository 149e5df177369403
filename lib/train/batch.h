#pragma once
// A zoo batch made ready for the model: weights normalised (optionally transformed by a random symmetry of
// their architecture first), packed for the encoder, targets on the model's scale.
#include <random>
#include <vector>

#include "encoder/encoder_input.h"
#include "train/normalizer.h"
#include "zoo/zoo_stream.h"

namespace sne::train {

struct PreparedBatch {
  encoder::EncoderInput input;
  at::Tensor target;          ///< [N] float, model scale (undefined when no property was loaded)
  std::vector<double> truth;  ///< [N] original units
  std::vector<int64_t> index; ///< network indices
};

/// `symmetry_rng` non-null: each network first gets an independent random function-preserving permutation.
PreparedBatch prepare_batch(const zoo::NetworkBatch& b, const zoo::ZooFile& zoo, const ValueNormalizer& values,
                            const TargetScaler* targets, int64_t chunk_size, at::Device device,
                            std::mt19937_64* symmetry_rng = nullptr);

}  // namespace sne::train
