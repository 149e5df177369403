#pragma once
// A zoo batch made ready for the model: weights checked and normalised once, packed for the encoder (each
// architecture's layout computed once per preparer), targets on the model's scale. The invariance term's
// symmetry transforms act on the normalised rows (per-tensor standardisation commutes with permutations
// inside a tensor), so a transformed copy costs one permutation and one pack, not a second preparation.
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
  std::vector<float> rows;    ///< the normalised weights of every network, back to back
  std::vector<int64_t> row_offset;                    ///< [N] first weight of each network in `rows`
  std::vector<const zoo::ArchitectureSpec*> archs;    ///< [N]
};

class BatchPreparer {
 public:
  /// `targets` null: no targets are made (encoding).
  BatchPreparer(const zoo::ZooFile& zoo, const ValueNormalizer& values, const TargetScaler* targets,
                int64_t chunk_size, at::Device device);
  /// DataError naming the zoo and network for a NaN/Inf weight.
  PreparedBatch prepare(const zoo::NetworkBatch& b);
  /// The encoder input of `b` with every network under an independent random function-preserving permutation.
  encoder::EncoderInput transformed(const PreparedBatch& b, std::mt19937_64& rng);
  /// One encoder input holding `b` and then `copies` transformed copies of it (network k of copy s at
  /// s * N + k): the invariance term's passes as one pass over a larger batch.
  encoder::EncoderInput with_transformed(const PreparedBatch& b, int64_t copies, std::mt19937_64& rng);

 private:
  const zoo::ZooFile& zoo_;
  const ValueNormalizer& values_;
  const TargetScaler* targets_;
  encoder::BatchPacker packer_;
  at::Device device_;
  std::vector<float> scratch_;
};

}  // namespace sne::train
