#include "train/batch.h"

#include <cmath>

#include "core/error.h"
#include "zoo/symmetry.h"

namespace sne::train {

PreparedBatch prepare_batch(const zoo::NetworkBatch& b, const zoo::ZooFile& zoo, const ValueNormalizer& values,
                            const TargetScaler* targets, int64_t chunk_size, at::Device device,
                            std::mt19937_64* symmetry_rng) {
  PreparedBatch out;
  std::vector<float> params = b.params;  // normalised in place below
  std::vector<const zoo::ArchitectureSpec*> archs;
  std::vector<const float*> rows;
  for (int64_t i = 0; i < b.size(); ++i) {
    const auto& spec = zoo.architectures()[static_cast<std::size_t>(b.arch[static_cast<std::size_t>(i)])];
    float* p = params.data() + b.offset[static_cast<std::size_t>(i)];
    for (int64_t k = 0; k < spec.num_params(); ++k)
      if (!std::isfinite(p[k]))
        throw DataError(zoo.path() + ": network " + std::to_string(b.index[static_cast<std::size_t>(i)]) +
                        " has a NaN/Inf weight (tensor element " + std::to_string(k) +
                        "); `sne zoo validate` lists every such network");
    if (symmetry_rng) zoo::random_symmetry_transform(spec, *symmetry_rng, p);
    values.apply(spec, p);
    archs.push_back(&spec);
    rows.push_back(p);
  }
  out.input = encoder::build_input(archs, rows, chunk_size, device);
  out.index = b.index;
  if (targets && !b.properties.empty()) {
    const std::size_t np = b.properties.size() / static_cast<std::size_t>(b.size());
    std::vector<float> t;
    for (int64_t i = 0; i < b.size(); ++i) {
      const double y = b.properties[static_cast<std::size_t>(i) * np];
      out.truth.push_back(y);
      t.push_back(static_cast<float>(targets->to_model(y)));
    }
    out.target = at::tensor(t, at::kFloat).to(device);
  }
  return out;
}

}  // namespace sne::train
