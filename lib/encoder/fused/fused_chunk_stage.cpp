#include "encoder/fused/fused_chunk_stage.h"

#include <torch/csrc/autograd/custom_function.h>

#include <stdexcept>

namespace sne::encoder {
namespace {

std::vector<float*> float_pointers(const std::vector<at::Tensor>& ts) {
  std::vector<float*> out;
  for (const auto& t : ts) out.push_back(t.data_ptr<float>());
  return out;
}

kernels::ChunkSet chunk_set(const at::Tensor& values, const at::Tensor& lengths, const at::Tensor& encoding) {
  kernels::ChunkSet cs;
  cs.values = values.data_ptr<float>();
  cs.lengths = lengths.data_ptr<int32_t>();
  cs.encoding = encoding.numel() > 0 ? encoding.data_ptr<float>() : nullptr;
  cs.count = values.size(0);
  cs.c = values.size(1);
  return cs;
}

struct FusedChunkStage : torch::autograd::Function<FusedChunkStage> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& values, const at::Tensor& lengths,
                            const at::Tensor& encoding, at::TensorList params, const kernels::ChunkStageShape* shape) {
    std::vector<at::Tensor> p;
    for (const auto& t : params) p.push_back(t.contiguous());
    at::Tensor out = at::empty({values.size(0), shape->dim}, values.options());
    kernels::chunk_stage_forward(*shape, kernels::bind(*shape, float_pointers(p)), chunk_set(values, lengths, encoding),
                                 out.data_ptr<float>());
    std::vector<at::Tensor> saved{values, lengths, encoding};
    saved.insert(saved.end(), p.begin(), p.end());
    ctx->save_for_backward(saved);
    ctx->saved_data["shape"] = static_cast<int64_t>(reinterpret_cast<intptr_t>(shape));  // owned by the encoder
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto* shape =
        reinterpret_cast<const kernels::ChunkStageShape*>(static_cast<intptr_t>(ctx->saved_data["shape"].toInt()));
    const auto saved = ctx->get_saved_variables();
    const std::vector<at::Tensor> p(saved.begin() + 3, saved.end());
    std::vector<at::Tensor> g;
    for (const auto& t : p) g.push_back(at::zeros_like(t));
    const at::Tensor grad_out = grad[0].contiguous();
    kernels::chunk_stage_backward(*shape, kernels::bind(*shape, float_pointers(p)),
                                  chunk_set(saved[0], saved[1], saved[2]), grad_out.data_ptr<float>(),
                                  kernels::bind(*shape, float_pointers(g)));
    torch::autograd::variable_list out{at::Tensor(), at::Tensor(), at::Tensor()};
    out.insert(out.end(), g.begin(), g.end());
    out.emplace_back();  // the shape
    return out;
  }
};

}  // namespace

at::Tensor fused_chunk_stage(const kernels::ChunkStageShape& shape, const std::vector<at::Tensor>& params,
                             const at::Tensor& values, const at::Tensor& lengths, const at::Tensor& encoding) {
  if (!values.device().is_cpu() || values.scalar_type() != at::kFloat)
    throw std::invalid_argument("fused chunk stage: float32 CPU tensors only");
  for (const auto& t : params)
    if (!t.device().is_cpu() || t.scalar_type() != at::kFloat)
      throw std::invalid_argument("fused chunk stage: float32 CPU parameters only");
  return FusedChunkStage::apply(values.contiguous(), lengths.to(at::kInt).contiguous(), encoding.contiguous(),
                                at::TensorList(params), &shape);
}

}  // namespace sne::encoder
