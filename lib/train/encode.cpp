#include "train/encode.h"

#include <torch/torch.h>

#include <cstdio>

#include "train/batch.h"
#include "train/predict.h"
#include "zoo/embedding_writer.h"
#include "zoo/zoo_stream.h"

namespace sne::train {
namespace {

// FNV-1a over the model's parameters: which weights made the codes (the parts of a sharded encode must agree).
std::string weights_fingerprint(torch::nn::Module& model) {
  uint64_t h = 1469598103934665603ull;
  for (const auto& p : model.parameters()) {
    const torch::Tensor t = p.detach().to(torch::kCPU).contiguous();
    const auto* b = static_cast<const unsigned char*>(t.data_ptr());
    for (std::size_t i = 0; i < static_cast<std::size_t>(t.nbytes()); ++i) h = (h ^ b[i]) * 1099511628211ull;
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

int64_t encode_zoo(LoadedModel& m, std::shared_ptr<const zoo::ZooFile> z, const std::string& split,
                   const std::string& out_path, bool overwrite, const Context& ctx,
                   const std::function<void(int64_t, int64_t)>& progress, EncodeShard shard) {
  torch::NoGradGuard no_grad;
  require_readable(m.config, m.shape, *z, split);
  m.model->eval();
  zoo::StreamOptions o;
  o.split = split;
  o.properties = z->property_names();
  o.batch_size = m.config.zoo.reader.batch_size;
  o.memory_budget_bytes = budget_bytes(m.config);
  o.shard_index = shard.index;
  o.num_shards = shard.count;
  o.shard_align = o.batch_size;  // a shard's batches are the unsharded run's: the same codes, bit for bit
  zoo::ZooStream stream(z, o);
  Json provenance = Json::object();
  provenance.set("zoo", z->path());
  provenance.set("split", split.empty() ? "all" : split);
  provenance.set("property_predicted", m.config.task.property);
  provenance.set("weights", weights_fingerprint(*m.model));
  if (shard.count > 1) provenance.set("shard", std::to_string(shard.index) + "/" + std::to_string(shard.count));
  zoo::EmbeddingWriter out(out_path, m.config.encoder.dim, o.properties, provenance, overwrite);
  const at::Device dev = device_of(ctx);
  BatchPreparer preparer(*z, m.values, nullptr, m.config.encoder.chunk_size, dev);
  zoo::NetworkBatch b;
  while (stream.next(b)) {
    const PreparedBatch pb = preparer.prepare(b);
    const torch::Tensor codes = m.model->encode(pb.input).to(torch::kFloat).cpu().contiguous();
    out.append(codes.data_ptr<float>(), b.index, b.properties);
    if (progress) progress(out.rows(), stream.size());
  }
  out.close();
  return stream.size();
}

}  // namespace sne::train
