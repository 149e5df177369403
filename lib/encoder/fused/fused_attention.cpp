#include "encoder/fused/fused_attention.h"

#include <torch/csrc/autograd/custom_function.h>

#include <stdexcept>

#include "encoder/fused/attention_kernel.h"

namespace sne::encoder {
namespace {

kernels::AttentionShape shape_of(const at::Tensor& q, const at::Tensor& k, int64_t heads) {
  kernels::AttentionShape s;
  s.sets = q.size(0);
  s.heads = heads;
  s.queries = q.size(1);
  s.keys = k.size(1);
  s.dim = q.size(2);
  return s;
}

const uint8_t* mask_data(const at::Tensor& m) {
  return m.numel() > 0 ? reinterpret_cast<const uint8_t*>(m.data_ptr<bool>()) : nullptr;
}

struct FusedAttention : torch::autograd::Function<FusedAttention> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k,
                            const at::Tensor& v, const at::Tensor& key_mask, int64_t heads) {
    const kernels::AttentionShape s = shape_of(q, k, heads);
    at::Tensor out = at::empty_like(q);
    at::Tensor stats = at::empty({s.sets, heads, s.queries, 2}, q.options());
    kernels::attention_forward(s, q.data_ptr<float>(), k.data_ptr<float>(), v.data_ptr<float>(), mask_data(key_mask),
                               out.data_ptr<float>(), stats.data_ptr<float>());
    ctx->save_for_backward({q, k, v, key_mask, stats});
    ctx->saved_data["heads"] = heads;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto t = ctx->get_saved_variables();
    const at::Tensor &q = t[0], &k = t[1], &v = t[2], &mask = t[3], &stats = t[4];
    const kernels::AttentionShape s = shape_of(q, k, ctx->saved_data["heads"].toInt());
    const at::Tensor g = grad[0].contiguous();
    at::Tensor gq = at::empty_like(q), gk = at::empty_like(k), gv = at::empty_like(v);
    kernels::attention_backward(s, q.data_ptr<float>(), k.data_ptr<float>(), v.data_ptr<float>(), mask_data(mask),
                                stats.data_ptr<float>(), g.data_ptr<float>(),
                                gq.data_ptr<float>(), gk.data_ptr<float>(), gv.data_ptr<float>());
    return {gq, gk, gv, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor fused_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& key_mask,
                           int64_t heads) {
  for (const at::Tensor* t : {&q, &k, &v})
    if (!t->device().is_cpu() || t->scalar_type() != at::kFloat || t->dim() != 3)
      throw std::invalid_argument("fused attention: [B, L, d] float32 CPU tensors only");
  if (k.sizes() != v.sizes() || q.size(0) != k.size(0) || q.size(2) != k.size(2) || q.size(2) % heads != 0)
    throw std::invalid_argument("fused attention: q [B, Lq, d], k and v [B, Lk, d], d a multiple of heads");
  at::Tensor m = at::empty({0}, q.options().dtype(at::kBool));  // no mask (autograd functions take no undefined input)
  if (key_mask.defined()) {
    if (key_mask.dim() != 2 || key_mask.size(0) != k.size(0) || key_mask.size(1) != k.size(1))
      throw std::invalid_argument("fused attention: key_mask must be [B, Lk]");
    m = key_mask.to(at::kBool).contiguous();
  }
  return FusedAttention::apply(q.contiguous(), k.contiguous(), v.contiguous(), m, heads);
}

}  // namespace sne::encoder
