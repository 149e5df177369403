#include "train/batch.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "zoo/symmetry.h"

namespace sne::train {

BatchPreparer::BatchPreparer(const zoo::ZooFile& zoo, const ValueNormalizer& values, const TargetScaler* targets,
                             int64_t chunk_size, at::Device device)
    : zoo_(zoo), values_(values), targets_(targets), packer_(chunk_size), device_(device) {}

PreparedBatch BatchPreparer::prepare(const zoo::NetworkBatch& b) {
  PreparedBatch out;
  out.rows = b.params;  // normalised in place below
  for (int64_t i = 0; i < b.size(); ++i) {
    const auto& spec = zoo_.architectures()[static_cast<std::size_t>(b.arch[static_cast<std::size_t>(i)])];
    const int64_t offset = b.offset[static_cast<std::size_t>(i)];
    float* p = out.rows.data() + offset;
    for (int64_t k = 0; k < spec.num_params(); ++k)
      if (!std::isfinite(p[k]))
        throw DataError(zoo_.path() + ": network " + std::to_string(b.index[static_cast<std::size_t>(i)]) +
                        " has a NaN/Inf weight (tensor element " + std::to_string(k) +
                        "); `sne zoo validate` lists every such network");
    values_.apply(spec, p);
    out.archs.push_back(&spec);
    out.row_offset.push_back(offset);
  }
  std::vector<const float*> rows;
  for (int64_t o : out.row_offset) rows.push_back(out.rows.data() + o);
  out.input = packer_.pack(out.archs, rows, device_);
  out.index = b.index;
  if (targets_ && !b.properties.empty()) {
    const std::size_t np = b.properties.size() / static_cast<std::size_t>(b.size());
    std::vector<float> t;
    for (int64_t i = 0; i < b.size(); ++i) {
      const double y = b.properties[static_cast<std::size_t>(i) * np];
      out.truth.push_back(y);
      t.push_back(static_cast<float>(targets_->to_model(y)));
    }
    out.target = at::tensor(t, at::kFloat).to(device_);
  }
  return out;
}

encoder::EncoderInput BatchPreparer::transformed(const PreparedBatch& b, std::mt19937_64& rng) {
  scratch_ = b.rows;
  std::vector<const float*> rows;
  for (std::size_t i = 0; i < b.archs.size(); ++i) {
    float* p = scratch_.data() + b.row_offset[i];
    zoo::random_symmetry_transform(*b.archs[i], rng, p);
    rows.push_back(p);
  }
  return packer_.pack(b.archs, rows, device_);
}

encoder::EncoderInput BatchPreparer::with_transformed(const PreparedBatch& b, int64_t copies, std::mt19937_64& rng) {
  const std::size_t n = b.archs.size(), total = b.rows.size();
  scratch_.resize(total * static_cast<std::size_t>(copies));
  std::vector<const zoo::ArchitectureSpec*> archs = b.archs;
  std::vector<const float*> rows;
  for (std::size_t i = 0; i < n; ++i) rows.push_back(b.rows.data() + b.row_offset[i]);
  for (int64_t s = 0; s < copies; ++s) {
    float* base = scratch_.data() + static_cast<std::size_t>(s) * total;
    std::copy(b.rows.begin(), b.rows.end(), base);
    for (std::size_t i = 0; i < n; ++i) {
      float* p = base + b.row_offset[i];
      zoo::random_symmetry_transform(*b.archs[i], rng, p);
      archs.push_back(b.archs[i]);
      rows.push_back(p);
    }
  }
  return packer_.pack(archs, rows, device_);
}

}  // namespace sne::train
