#include "encoder/set_blocks.h"

#include <torch/csrc/autograd/custom_function.h>
#include <torch/nn/functional/activation.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>
#include <stdexcept>

#include "encoder/fused/fused_attention.h"

namespace sne::encoder {
namespace F = torch::nn::functional;

AttentionImpl::AttentionImpl(int64_t dim, int64_t heads, bool fused) : heads_(heads), fused_(fused) {
  if (heads < 1 || dim % heads != 0)
    throw std::invalid_argument("attention: dim " + std::to_string(dim) + " is not a multiple of heads " +
                                std::to_string(heads));
  wq_ = register_module("wq", torch::nn::Linear(dim, dim));
  wk_ = register_module("wk", torch::nn::Linear(dim, dim));
  wv_ = register_module("wv", torch::nn::Linear(dim, dim));
  wo_ = register_module("wo", torch::nn::Linear(dim, dim));
}

namespace {

int64_t max_scores = int64_t{1} << 24;  // attention weights held at once by a long set: 64 MiB

torch::Tensor masked_scores(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& key_mask) {
  const int64_t hd = q.size(-1);
  torch::Tensor s = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(hd));
  return key_mask.defined() ? s.masked_fill(key_mask.logical_not(), -1e30) : s;
}

/// softmax(Q K^T / sqrt(hd)) V over sets too long to hold their [Lq, Lk] weights: forward runs slices of
/// queries and keeps no weights; backward recomputes each slice's weights (the memory of flash attention, in
/// LibTorch operations). Q: [B, H, Lq, hd]; K, V: [B, H, Lk, hd]; key_mask: [B, 1, 1, Lk] bool or undefined.
struct SlicedAttention : torch::autograd::Function<SlicedAttention> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& Q, const torch::Tensor& K,
                               const torch::Tensor& V, const torch::Tensor& key_mask, int64_t slice) {
    ctx->save_for_backward({Q, K, V, key_mask});
    ctx->saved_data["slice"] = slice;
    torch::Tensor out = torch::empty_like(Q);
    for (int64_t s0 = 0; s0 < Q.size(2); s0 += slice) {
      const int64_t n = std::min(slice, Q.size(2) - s0);
      out.narrow(2, s0, n).copy_(torch::matmul(torch::softmax(masked_scores(Q.narrow(2, s0, n), K, key_mask), -1), V));
    }
    return out;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto s = ctx->get_saved_variables();
    const torch::Tensor &Q = s[0], &K = s[1], &V = s[2], &mask = s[3];
    const int64_t slice = ctx->saved_data["slice"].toInt();
    const double scale = 1.0 / std::sqrt(static_cast<double>(Q.size(-1)));
    const torch::Tensor dO = grad[0];
    torch::Tensor dQ = torch::empty_like(Q), dK = torch::zeros_like(K), dV = torch::zeros_like(V);
    for (int64_t s0 = 0; s0 < Q.size(2); s0 += slice) {
      const int64_t n = std::min(slice, Q.size(2) - s0);
      const torch::Tensor q = Q.narrow(2, s0, n), g = dO.narrow(2, s0, n);
      const torch::Tensor P = torch::softmax(masked_scores(q, K, mask), -1);  // [B, H, n, Lk]
      dV += torch::matmul(P.transpose(-2, -1), g);
      const torch::Tensor dP = torch::matmul(g, V.transpose(-2, -1));
      const torch::Tensor dS = P * (dP - (dP * P).sum(-1, true)) * scale;
      dQ.narrow(2, s0, n).copy_(torch::matmul(dS, K));
      dK += torch::matmul(dS.transpose(-2, -1), q);
    }
    return {dQ, dK, dV, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

int64_t set_max_attention_scores(int64_t n) {
  const int64_t before = max_scores;
  max_scores = n;
  return before;
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& q, const torch::Tensor& kv, const torch::Tensor& key_mask) {
  const int64_t b = q.size(0), lq = q.size(1), lk = kv.size(1), d = q.size(2), hd = d / heads_;
  if (fused_ && q.is_cpu() && q.scalar_type() == torch::kFloat)
    return wo_->forward(fused_attention(wq_->forward(q), wk_->forward(kv), wv_->forward(kv), key_mask, heads_));
  const auto split = [&](const torch::Tensor& t, int64_t l) { return t.view({b, l, heads_, hd}).transpose(1, 2); };
  const torch::Tensor Q = split(wq_->forward(q), lq), K = split(wk_->forward(kv), lk), V = split(wv_->forward(kv), lk);
#if defined(TORCH_VERSION_MAJOR) && TORCH_VERSION_MAJOR >= 2
  if (q.is_cuda()) {  // LibTorch 2.x on a GPU: fused attention (flash / memory-efficient kernels)
    c10::optional<torch::Tensor> m;
    torch::Tensor any;
    if (key_mask.defined()) {
      any = key_mask.any(1).view({b, 1, 1, 1});
      // A set that is all padding attends to its (zero) padding instead of giving NaN; zeroed below.
      m = key_mask.view({b, 1, 1, lk}).logical_or(any.logical_not());
    }
    torch::Tensor out = at::scaled_dot_product_attention(Q, K, V, m);
    if (key_mask.defined()) out = out * any.to(out.dtype());
    return wo_->forward(out.transpose(1, 2).reshape({b, lq, d}));
  }
#endif
  if (b * heads_ * lq * lk > max_scores) {  // a long set: weights in slices of queries, recomputed in backward
    const int64_t slice = std::max<int64_t>(1, max_scores / (b * heads_ * lk));
    const torch::Tensor m = key_mask.defined() ? key_mask.view({b, 1, 1, lk}) : torch::Tensor();
    torch::Tensor out = SlicedAttention::apply(Q.contiguous(), K.contiguous(), V.contiguous(), m, slice);
    if (key_mask.defined()) out = out * key_mask.any(1).view({b, 1, 1, 1}).to(out.dtype());
    return wo_->forward(out.transpose(1, 2).reshape({b, lq, d}));
  }
  torch::Tensor scores = torch::matmul(Q, K.transpose(-2, -1)) / std::sqrt(static_cast<double>(hd));  // [B,H,Lq,Lk]
  torch::Tensor out;
  if (key_mask.defined()) {
    const torch::Tensor m = key_mask.view({b, 1, 1, lk});
    // A large finite negative instead of -inf: a set that is all padding gives uniform weights (zeroed below)
    // rather than NaN.
    scores = scores.masked_fill(m.logical_not(), -1e30);
    out = torch::matmul(torch::softmax(scores, -1), V);
    out = out * key_mask.any(1).view({b, 1, 1, 1}).to(out.dtype());
  } else {
    out = torch::matmul(torch::softmax(scores, -1), V);
  }
  return wo_->forward(out.transpose(1, 2).reshape({b, lq, d}));
}

std::vector<torch::Tensor> AttentionImpl::kernel_parameters() const {
  return {wq_->weight, wq_->bias, wk_->weight, wk_->bias, wv_->weight, wv_->bias, wo_->weight, wo_->bias};
}

std::vector<torch::Tensor> SABImpl::kernel_parameters() const {
  std::vector<torch::Tensor> p{ln1_->weight, ln1_->bias, ln2_->weight, ln2_->bias};
  for (const auto& t : att_->kernel_parameters()) p.push_back(t);
  for (const auto& t : {ff1_->weight, ff1_->bias, ff2_->weight, ff2_->bias}) p.push_back(t);
  return p;
}

std::vector<torch::Tensor> PMAImpl::kernel_parameters() const {
  std::vector<torch::Tensor> p{seed_.view({-1}), ln_q_->weight, ln_q_->bias, ln_kv_->weight, ln_kv_->bias,
                               ln2_->weight, ln2_->bias};
  for (const auto& t : att_->kernel_parameters()) p.push_back(t);
  for (const auto& t : {ff1_->weight, ff1_->bias, ff2_->weight, ff2_->bias}) p.push_back(t);
  return p;
}

SABImpl::SABImpl(const SetBlockOptions& o) : o_(o) {
  att_ = register_module("att", Attention(o.dim, o.heads, o.fused_attention));
  ln1_ = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.dim})));
  ln2_ = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.dim})));
  ff1_ = register_module("ff1", torch::nn::Linear(o.dim, o.ff_mult * o.dim));
  ff2_ = register_module("ff2", torch::nn::Linear(o.ff_mult * o.dim, o.dim));
}

torch::Tensor SABImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  const auto ff = [&](const torch::Tensor& t) { return ff2_->forward(F::gelu(ff1_->forward(t))); };
  torch::Tensor out;
  if (o_.pre_ln) {
    const torch::Tensor n = ln1_->forward(x);
    const torch::Tensor h = x + att_->forward(n, n, mask);
    out = h + ff(ln2_->forward(h));
  } else {
    const torch::Tensor h = ln1_->forward(x + att_->forward(x, x, mask));
    out = ln2_->forward(h + ff(h));
  }
  return mask.defined() ? out * mask.unsqueeze(-1).to(out.dtype()) : out;
}

PMAImpl::PMAImpl(const SetBlockOptions& o) : o_(o) {
  seed_ = register_parameter("seed", torch::randn({1, 1, o.dim}) * 0.02);
  att_ = register_module("att", Attention(o.dim, o.heads, o.fused_attention));
  ln_q_ = register_module("ln_q", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.dim})));
  ln_kv_ = register_module("ln_kv", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.dim})));
  ln2_ = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.dim})));
  ff1_ = register_module("ff1", torch::nn::Linear(o.dim, o.ff_mult * o.dim));
  ff2_ = register_module("ff2", torch::nn::Linear(o.ff_mult * o.dim, o.dim));
}

torch::Tensor PMAImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  const int64_t b = x.size(0);
  const torch::Tensor s = seed_.expand({b, 1, o_.dim});
  const auto ff = [&](const torch::Tensor& t) { return ff2_->forward(F::gelu(ff1_->forward(t))); };
  torch::Tensor out;
  if (o_.pre_ln) {
    const torch::Tensor a = att_->forward(ln_q_->forward(s), ln_kv_->forward(x), mask);
    const torch::Tensor h = o_.pma_seed_residual ? s + a : a;
    out = h + ff(ln2_->forward(h));
  } else {
    const torch::Tensor a = att_->forward(s, x, mask);
    const torch::Tensor h = ln_q_->forward(o_.pma_seed_residual ? s + a : a);
    out = ln2_->forward(h + ff(h));
  }
  return out.squeeze(1);
}

}  // namespace sne::encoder
