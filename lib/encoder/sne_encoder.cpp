#include "encoder/sne_encoder.h"

#include "encoder/fused/fused_chunk_stage.h"
#include "encoder/pad_chunk.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace sne::encoder {

/// Stage 1 of one slice of chunks with activation checkpointing: forward keeps only the slice's [n, d] output;
/// backward recomputes the slice with gradients on and back-propagates into the encoder's parameters. `anchor`
/// (an empty tensor that requires grad) ties the node into the graph, since no other input requires grad.
struct RecomputedChunks : torch::autograd::Function<RecomputedChunks> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& anchor,
                               const torch::Tensor& values, const torch::Tensor& mask, const torch::Tensor& owner,
                               const torch::Tensor& start, const torch::Tensor& fan, const torch::Tensor& type_pe,
                               const torch::Tensor& level_pe, SNEEncoderImpl* encoder) {
    ctx->save_for_backward({values, mask, owner, start, fan, type_pe, level_pe});
    ctx->saved_data["encoder"] = static_cast<int64_t>(reinterpret_cast<intptr_t>(encoder));  // outlives the graph
    return encoder->encode_chunks(values, mask, owner, start, fan, type_pe, level_pe);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    auto* encoder = reinterpret_cast<SNEEncoderImpl*>(static_cast<intptr_t>(ctx->saved_data["encoder"].toInt()));
    const auto s = ctx->get_saved_variables();
    torch::Tensor out;
    {
      torch::AutoGradMode on(true);
      out = encoder->encode_chunks(s[0], s[1], s[2], s[3], s[4], s[5], s[6]);
    }
    torch::autograd::backward({out}, {grad[0]});
    return torch::autograd::variable_list(9);  // no gradient for any input; the parameters got theirs above
  }
};

/// Stage 2 of one group of tensors with activation checkpointing: forward keeps only the group's tensor vectors;
/// backward recomputes the group with gradients on, back-propagates into the encoder's parameters and returns
/// the gradient of the group's chunk vectors.
struct RecomputedTensors : torch::autograd::Function<RecomputedTensors> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& chunk_vec,
                               const torch::Tensor& level_pe, const std::vector<int64_t>& starts,
                               SNEEncoderImpl* encoder) {
    ctx->save_for_backward({chunk_vec, level_pe});
    ctx->saved_data["starts"] = starts;
    ctx->saved_data["encoder"] = static_cast<int64_t>(reinterpret_cast<intptr_t>(encoder));  // outlives the graph
    return encoder->encode_tensors(chunk_vec, starts, level_pe);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    auto* encoder = reinterpret_cast<SNEEncoderImpl*>(static_cast<intptr_t>(ctx->saved_data["encoder"].toInt()));
    const auto s = ctx->get_saved_variables();
    const std::vector<int64_t> starts = ctx->saved_data["starts"].toIntVector();
    const torch::Tensor x = s[0].detach().requires_grad_(true);
    {
      torch::AutoGradMode on(true);
      const torch::Tensor out = encoder->encode_tensors(x, starts, s[1]);
      torch::autograd::backward({out}, {grad[0]});
    }
    return {x.grad(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

torch::Tensor sinusoid(const torch::Tensor& positions, int64_t dim) {
  const auto opts = torch::TensorOptions().dtype(torch::kFloat).device(positions.device());
  const torch::Tensor i = torch::arange(0, dim, 2, opts);
  const torch::Tensor freq = torch::exp(i * (-std::log(10000.0) / static_cast<double>(dim)));  // [dim/2]
  const torch::Tensor angle = positions.to(torch::kFloat).unsqueeze(1) * freq.unsqueeze(0);    // [M, dim/2]
  return torch::stack({torch::sin(angle), torch::cos(angle)}, 2).reshape({positions.size(0), -1}).narrow(1, 0, dim);
}

std::pair<torch::Tensor, torch::Tensor> pack_groups(const torch::Tensor& rows, const std::vector<int64_t>& starts) {
  const auto groups = static_cast<int64_t>(starts.size()) - 1;
  int64_t longest = 1;
  std::vector<int64_t> g_index, p_index;
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t n = starts[static_cast<std::size_t>(g) + 1] - starts[static_cast<std::size_t>(g)];
    longest = std::max(longest, n);
    for (int64_t p = 0; p < n; ++p) {
      g_index.push_back(g);
      p_index.push_back(p);
    }
  }
  const auto dev = rows.device();
  const torch::Tensor gi = torch::tensor(g_index, torch::kLong).to(dev), pi = torch::tensor(p_index, torch::kLong).to(dev);
  torch::Tensor out = torch::zeros({groups, longest, rows.size(1)}, rows.options());
  out = out.index_put({gi, pi}, rows);
  torch::Tensor mask = torch::zeros({groups, longest}, torch::TensorOptions().dtype(torch::kBool).device(dev));
  mask.index_put_({gi, pi}, true);
  return {out, mask};
}

namespace {
// Group starts from a per-row owner list that is sorted (contiguous groups), for `groups` groups.
std::vector<int64_t> starts_of(const std::vector<int64_t>& owner, int64_t groups) {
  std::vector<int64_t> starts(static_cast<std::size_t>(groups) + 1, 0);
  for (int64_t o : owner) ++starts[static_cast<std::size_t>(o) + 1];
  for (std::size_t g = 1; g < starts.size(); ++g) starts[g] += starts[g - 1];
  return starts;
}
}  // namespace

SNEEncoderImpl::SNEEncoderImpl(const EncoderOptions& o) : o_(o) {
  const int64_t d = o.blocks.dim;
  if (o.chunk_size < 1) throw std::invalid_argument("encoder.chunk_size must be >= 1");
  if (o.value_embedding == "fourier") value_proj_ = register_module("value_proj", torch::nn::Linear(1 + 2 * o.fourier_bands, d));
  else if (o.value_embedding == "linear") value_proj_ = register_module("value_proj", torch::nn::Linear(1, d));
  else throw std::invalid_argument("encoder.value_embedding must be fourier or linear, got '" + o.value_embedding + "'");
  role_emb_ = register_module("role_emb", torch::nn::Embedding(3, d));
  if (o.position_scale != 1.0) {  // the role encoding, like the positional ones, starts at position_scale's size
    torch::NoGradGuard no_grad;
    role_emb_->weight.mul_(o.position_scale);
  }
  if (o.element_positions) {
    element_proj_ = register_module("element_proj", torch::nn::Linear(torch::nn::LinearOptions(6 * kElementBands, d).bias(false)));
    if (o.position_scale != 1.0) {  // starts at the size of the other positional encodings
      torch::NoGradGuard no_grad;
      element_proj_->weight.mul_(o.position_scale);
    }
  }
  const auto make = [&](std::vector<SAB>& v, const std::string& name, int n) {
    for (int k = 0; k < n; ++k) v.push_back(register_module(name + std::to_string(k), SAB(o.blocks)));
  };
  make(phi1_, "phi1_", 2);
  make(phi2_, "phi2_", 2);
  make(phi3_, "phi3_", 2);
  make(merge_, "merge_", 2);
  make(phi4_, "phi4_", 2);
  gamma_chunk_ = register_module("gamma_chunk", PMA(o.blocks));
  gamma_tensor_ = register_module("gamma_tensor", PMA(o.blocks));
  gamma_layer_ = register_module("gamma_layer", PMA(o.blocks));
  gamma_net_ = register_module("gamma_net", PMA(o.blocks));
  kernel_shape_.dim = d;
  kernel_shape_.heads = o.blocks.heads;
  kernel_shape_.ff = o.blocks.ff_mult * d;
  kernel_shape_.fourier = o.value_embedding == "fourier";
  kernel_shape_.fourier_bands = o.fourier_bands;
  kernel_shape_.seed_residual = o.blocks.pma_seed_residual;
}

bool SNEEncoderImpl::fused_stage1(const torch::Device& device) const {
  return o_.fused_kernels && o_.blocks.pre_ln && o_.set_functions && !o_.element_positions && device.is_cpu();
}

std::vector<torch::Tensor> SNEEncoderImpl::chunk_stage_parameters() const {
  std::vector<torch::Tensor> p{value_proj_->weight, value_proj_->bias};
  for (const auto* blocks : {&phi1_, &phi2_})
    for (const auto& b : *blocks)
      for (const auto& t : b->kernel_parameters()) p.push_back(t);
  for (const auto& t : gamma_chunk_->kernel_parameters()) p.push_back(t);
  return p;
}

torch::Tensor SNEEncoderImpl::position_encoding(const torch::Tensor& positions) const {
  const torch::Tensor pe = sinusoid(positions, o_.blocks.dim);
  return o_.position_scale == 1.0 ? pe : pe * o_.position_scale;
}

torch::Tensor SNEEncoderImpl::embed_values(const torch::Tensor& values) {
  torch::Tensor v = values.unsqueeze(-1);  // [S, c, 1]
  if (o_.value_embedding == "fourier") {
    std::vector<torch::Tensor> feats{v};
    for (int64_t k = 0; k < o_.fourier_bands; ++k) {
      const torch::Tensor a = v * std::ldexp(1.0, static_cast<int>(k));
      feats.push_back(torch::sin(a));
      feats.push_back(torch::cos(a));
    }
    v = torch::cat(feats, -1);
  }
  return value_proj_->forward(v);
}

std::array<torch::Tensor, 3> element_indices(const torch::Tensor& owner, const torch::Tensor& start,
                                             const torch::Tensor& fan, int64_t chunk_size) {
  const torch::Tensor shape = fan.index_select(0, owner);  // [n, 2]
  const torch::Tensor inputs = shape.select(1, 0).unsqueeze(1), kernel = shape.select(1, 1).unsqueeze(1);
  const torch::Tensor e = start.unsqueeze(1) + torch::arange(chunk_size, start.options()).unsqueeze(0);  // [n, c]
  const torch::Tensor rows = torch::div(e, kernel, "trunc");
  return {torch::div(rows, inputs, "trunc"), rows.remainder(inputs), e.remainder(kernel)};
}

torch::Tensor SNEEncoderImpl::element_encoding(const torch::Tensor& owner, const torch::Tensor& start,
                                               const torch::Tensor& fan) {
  const int64_t c = o_.chunk_size, n = owner.size(0), d = o_.blocks.dim, f = 2 * kElementBands;
  if (n == 0) return torch::zeros({0, c, d}, element_proj_->weight.options());
  // Padded elements get places after the tensor's end; the masks keep them out of every set.
  const std::array<torch::Tensor, 3> axes = element_indices(owner, start, fan, c);
  int64_t longest = 1;
  for (const auto& a : axes) longest = std::max(longest, a.max().item<int64_t>() + 1);
  const torch::Tensor features = sinusoid(torch::arange(longest, start.options()), f);  // [longest, 2B]
  torch::Tensor out;
  for (int64_t a = 0; a < 3; ++a) {  // one [longest, d] table per axis, looked up by each element's index
    const torch::Tensor table = features.matmul(element_proj_->weight.narrow(1, a * f, f).t());
    const torch::Tensor part = table.index_select(0, axes[static_cast<std::size_t>(a)].reshape({-1}));
    out = a == 0 ? part : out + part;
  }
  return out.view({n, c, d});
}

torch::Tensor SNEEncoderImpl::phi(std::vector<SAB>& blocks, torch::Tensor x, const torch::Tensor& mask) {
  if (!o_.set_functions) return mask.defined() ? x * mask.unsqueeze(-1).to(x.dtype()) : x;
  for (auto& b : blocks) x = b->forward(x, mask);
  return x;
}

torch::Tensor SNEEncoderImpl::encode_chunks(const torch::Tensor& values, const torch::Tensor& mask,
                                            const torch::Tensor& owner, const torch::Tensor& start,
                                            const torch::Tensor& fan, const torch::Tensor& type_pe,
                                            const torch::Tensor& level_pe) {
  torch::Tensor x = embed_values(values);  // [n, c, d]
  if (o_.element_positions) x = x + element_encoding(owner, start, fan);
  x = phi(phi1_, x, mask);
  if (type_pe.defined()) x = x + type_pe.index_select(0, owner).unsqueeze(1);
  if (level_pe.defined()) x = x + level_pe.index_select(0, owner).unsqueeze(1);
  x = phi(phi2_, x, mask);
  return gamma_chunk_->forward(x, mask);  // [n, d]
}

torch::Tensor SNEEncoderImpl::forward(const EncoderInput& in) {
  recomputed_ = false;
  const torch::Tensor level_pe = o_.level_encoding ? position_encoding(in.tensor_level) : torch::Tensor();
  return encode_above_chunks(in, chunk_vectors(in), level_pe);
}

torch::Tensor SNEEncoderImpl::chunk_vectors(const EncoderInput& in) {
  const Chunks& ch = in.chunks;
  const torch::Tensor type_pe = o_.type_encoding ? position_encoding(in.tensor_type) : torch::Tensor();
  const torch::Tensor level_pe = o_.level_encoding ? position_encoding(in.tensor_level) : torch::Tensor();

  // Stage 1: every chunk to a vector. The hand-written kernel bounds its own memory (tiles recomputed in
  // backward). The composition runs in slices of at most chunk_budget chunks (chunks are independent); with a
  // budget and gradients recorded, a slice's activations are recomputed in backward rather than kept.
  if (fused_stage1(ch.values.device())) {
    torch::Tensor encoding = torch::empty({0}, ch.values.options());
    if (type_pe.defined()) encoding = type_pe.index_select(0, ch.owner);
    if (level_pe.defined()) {
      const torch::Tensor l = level_pe.index_select(0, ch.owner);
      encoding = encoding.numel() ? encoding + l : l;
    }
    return fused_chunk_stage(kernel_shape_, chunk_stage_parameters(), ch.values, ch.lengths, encoding);
  }
  return reference_stage1(in, type_pe, level_pe);
}

torch::Tensor SNEEncoderImpl::reference_stage1(const EncoderInput& in, const torch::Tensor& type_pe,
                                               const torch::Tensor& level_pe) {
  const Chunks& ch = in.chunks;
  const int64_t total = ch.values.size(0);
  const int64_t slice = o_.chunk_budget > 0 ? o_.chunk_budget : std::max<int64_t>(total, 1);
  const bool recompute = o_.chunk_budget > 0 && torch::GradMode::is_enabled();
  if (o_.element_positions && (!ch.start.defined() || !in.tensor_fan.defined()))
    throw std::invalid_argument("encoder.element_positions needs the chunks' starts and tensor shapes (BatchPacker)");
  const torch::Tensor anchor = recompute ? torch::empty({0}, torch::requires_grad()) : torch::Tensor();
  std::vector<torch::Tensor> parts;
  recomputed_ = recomputed_ || recompute;
  for (int64_t k0 = 0; k0 < total; k0 += slice) {
    const int64_t n = std::min(slice, total - k0);
    const torch::Tensor values = ch.values.narrow(0, k0, n), mask = ch.mask.narrow(0, k0, n),
                        owner = ch.owner.narrow(0, k0, n);
    const torch::Tensor start = ch.start.defined() ? ch.start.narrow(0, k0, n) : torch::Tensor();
    const torch::Tensor fan = in.tensor_fan;
    parts.push_back(recompute ? RecomputedChunks::apply(anchor, values, mask, owner, start, fan, type_pe, level_pe, this)
                              : encode_chunks(values, mask, owner, start, fan, type_pe, level_pe));  // [n, d]
  }
  return parts.size() == 1 ? parts.front() : torch::cat(parts, 0);  // [total, d]
}

torch::Tensor SNEEncoderImpl::encode_tensors(const torch::Tensor& chunk_vec, const std::vector<int64_t>& starts,
                                             const torch::Tensor& level_pe) {
  auto [xt, mt] = pack_groups(chunk_vec, starts);  // [T, Q, d]
  xt = phi(phi3_, xt, mt);
  if (level_pe.numel() > 0) xt = xt + level_pe.unsqueeze(1) * mt.unsqueeze(-1).to(xt.dtype());
  return gamma_tensor_->forward(xt, mt);  // [T, d]
}

torch::Tensor SNEEncoderImpl::encode_above_chunks(const EncoderInput& in, const torch::Tensor& chunk_vec,
                                                  const torch::Tensor& level_pe) {
  const Chunks& ch = in.chunks;

  if (!o_.hierarchy) {  // ablation: all chunks of a network form one set
    std::vector<int64_t> chunk_net;
    for (std::size_t t = 0; t + 1 < ch.first_chunk.size(); ++t)
      for (int64_t k = ch.first_chunk[t]; k < ch.first_chunk[t + 1]; ++k)
        chunk_net.push_back(in.layer_network[static_cast<std::size_t>(in.tensor_layer[t])]);
    auto [x, mask] = pack_groups(chunk_vec, starts_of(chunk_net, in.num_networks));
    return gamma_net_->forward(phi(phi4_, x, mask), mask);
  }

  // Stage 2: the chunks of each tensor to one vector, in groups of whole tensors whose padded sets hold at most
  // chunk_budget chunks (a longer tensor alone); with several groups and gradients recorded, a group's
  // activations are recomputed in backward, so the budget bounds this stage's memory too.
  const auto T = static_cast<int64_t>(ch.numel.size());
  std::vector<int64_t> group_start{0};
  if (o_.chunk_budget > 0) {
    int64_t longest = 0;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t q = ch.first_chunk[static_cast<std::size_t>(t) + 1] - ch.first_chunk[static_cast<std::size_t>(t)];
      const int64_t in_group = t - group_start.back();
      if (in_group > 0 && (in_group + 1) * std::max(longest, q) > o_.chunk_budget) {
        group_start.push_back(t);
        longest = 0;
      }
      longest = std::max(longest, q);
    }
  }
  group_start.push_back(T);
  torch::Tensor tensor_vec;
  if (group_start.size() == 2) {
    tensor_vec = encode_tensors(chunk_vec, ch.first_chunk, level_pe.defined() ? level_pe : torch::empty({0}));
  } else {
    const bool recompute = torch::GradMode::is_enabled();
    recomputed_ = recomputed_ || recompute;
    std::vector<torch::Tensor> parts;
    for (std::size_t g = 0; g + 1 < group_start.size(); ++g) {
      const int64_t t0 = group_start[g], t1 = group_start[g + 1];
      const int64_t c0 = ch.first_chunk[static_cast<std::size_t>(t0)], c1 = ch.first_chunk[static_cast<std::size_t>(t1)];
      std::vector<int64_t> starts;
      for (int64_t t = t0; t <= t1; ++t) starts.push_back(ch.first_chunk[static_cast<std::size_t>(t)] - c0);
      const torch::Tensor x = chunk_vec.narrow(0, c0, c1 - c0);
      const torch::Tensor pe = level_pe.defined() ? level_pe.narrow(0, t0, t1 - t0) : torch::empty({0});
      parts.push_back(recompute ? RecomputedTensors::apply(x, pe, starts, this) : encode_tensors(x, starts, pe));
    }
    tensor_vec = torch::cat(parts, 0);
  }
  if (o_.role_encoding) tensor_vec = tensor_vec + role_emb_->forward(in.tensor_role);

  // Stage 3: the tensors of each layer (weight, bias, ...) to one vector.
  const auto num_layers = static_cast<int64_t>(in.layer_network.size());
  auto [xl, ml] = pack_groups(tensor_vec, starts_of(in.tensor_layer, num_layers));
  const torch::Tensor layer_vec = gamma_layer_->forward(phi(merge_, xl, ml), ml);  // [L, d]

  // Stage 4: the layers of each network to z.
  torch::Tensor lv = layer_vec;
  if (o_.level_encoding) lv = lv + position_encoding(in.layer_level);
  auto [xn, mn] = pack_groups(lv, starts_of(in.layer_network, in.num_networks));
  return gamma_net_->forward(phi(phi4_, xn, mn), mn);  // [N, d]
}

bool SNEEncoderImpl::invariant_to(const zoo::ArchitectureSpec& spec) const {
  return !o_.element_positions && symmetries_preserve_chunks(spec, o_.chunk_size);
}

}  // namespace sne::encoder
