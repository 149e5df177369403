#include "generators/cnn_arch.h"

#include <algorithm>

#include "core/error.h"

namespace sne::generators {
namespace {

using zoo::ArchitectureSpec;
using zoo::LayerKind;
using zoo::LayerSpec;
using zoo::Symmetry;
using zoo::TensorSpec;

LayerSpec layer(const std::string& name, LayerKind kind, int level, std::vector<int64_t> weight_shape, bool bias = true) {
  LayerSpec l;
  l.name = name;
  l.kind = kind;
  l.level = level;
  const int64_t out = weight_shape.front();
  l.tensors.push_back(TensorSpec{name + ".weight", "weight", std::move(weight_shape)});
  if (bias) l.tensors.push_back(TensorSpec{name + ".bias", "bias", {out}});
  return l;
}

// Units of `from` (rows of its weight and bias) feed `to` along axis 1, `block` columns per unit.
Symmetry units(const std::string& name, const std::string& from, const std::string& to, int64_t size, int64_t block = 1) {
  Symmetry s;
  s.name = name;
  s.size = size;
  s.actions = {{from + ".weight", 0, 0, 1}, {from + ".bias", 0, 0, 1}, {to + ".weight", 1, 0, block}};
  return s;
}

int64_t conv_out(int64_t in, int64_t k, int64_t stride) { return (in - k) / stride + 1; }

ArchitectureSpec arch1(int64_t c, int64_t h, int64_t w, int64_t classes) {
  ArchitectureSpec a;
  a.name = c == 1 ? "arch1" : "arch1_c" + std::to_string(c);
  int64_t hh = h, ww = w;
  for (int i = 0; i < 3; ++i) hh = conv_out(hh, 3, 2), ww = conv_out(ww, 3, 2);
  if (hh < 1 || ww < 1)
    throw ConfigError("arch1 needs images of at least 15x15 pixels, got " + std::to_string(h) + "x" + std::to_string(w));
  for (int i = 0; i < 3; ++i) {
    auto l = layer("conv" + std::to_string(i), LayerKind::conv2d, i, {16, i == 0 ? c : 16, 3, 3});
    l.attributes.set("stride", 2);
    l.attributes.set("padding", "valid");
    a.layers.push_back(std::move(l));
  }
  a.layers.push_back(layer("dense", LayerKind::linear, 3, {classes, 16}));
  a.symmetries = {units("conv0.channels", "conv0", "conv1", 16), units("conv1.channels", "conv1", "conv2", 16),
                  units("conv2.channels", "conv2", "dense", 16)};
  a.attributes.set("family", "arch1");
  a.attributes.set("in_channels", c);
  a.attributes.set("filters", 16);
  a.attributes.set("kernel", 3);
  a.attributes.set("stride", 2);
  a.attributes.set("padding", "valid");
  a.attributes.set("pooling", "global_average");
  a.attributes.set("classes", classes);
  return a;
}

ArchitectureSpec arch2(int64_t c, int64_t h, int64_t w, int64_t classes) {
  ArchitectureSpec a;
  a.name = "arch2_c" + std::to_string(c) + "_" + std::to_string(h) + "x" + std::to_string(w);
  const int64_t h1 = conv_out(h, 5, 1) / 2, w1 = conv_out(w, 5, 1) / 2;
  const int64_t h2 = conv_out(h1, 3, 1) / 2, w2 = conv_out(w1, 3, 1) / 2;
  if (h2 < 1 || w2 < 1)
    throw ConfigError("arch2 needs images of at least 12x12 pixels, got " + std::to_string(h) + "x" + std::to_string(w));
  const int64_t spatial = h2 * w2;
  a.layers.push_back(layer("conv0", LayerKind::conv2d, 0, {8, c, 5, 5}));
  a.layers.push_back(layer("conv1", LayerKind::conv2d, 1, {8, 8, 3, 3}));
  a.layers.push_back(layer("dense0", LayerKind::linear, 2, {32, 8 * spatial}));
  a.layers.push_back(layer("dense1", LayerKind::linear, 3, {classes, 32}));
  for (int i = 0; i < 2; ++i) a.layers[static_cast<std::size_t>(i)].attributes.set("pool", 2);
  a.symmetries = {units("conv0.channels", "conv0", "conv1", 8), units("conv1.channels", "conv1", "dense0", 8, spatial),
                  units("dense0.units", "dense0", "dense1", 32)};
  a.attributes.set("family", "arch2");
  a.attributes.set("in_channels", c);
  a.attributes.set("flatten", Json(std::vector<Json>{Json(8), Json(h2), Json(w2)}));
  a.attributes.set("classes", classes);
  return a;
}

ArchitectureSpec vit(const CnnRecipe& r, int64_t c, int64_t h, int64_t w, int64_t classes) {
  const int64_t p = r.vit_patch, d = r.vit_dim, heads = r.vit_heads, m = r.vit_dim * r.vit_mlp_ratio;
  if (h % p != 0 || w % p != 0)
    throw ConfigError("generate.cnn.vit_patch " + std::to_string(p) + " does not divide the image size " +
                      std::to_string(h) + "x" + std::to_string(w));
  if (d % heads != 0)
    throw ConfigError("generate.cnn.vit_heads " + std::to_string(heads) + " does not divide vit_dim " + std::to_string(d));
  const int64_t tokens = (h / p) * (w / p) + 1, hd = d / heads;
  ArchitectureSpec a;
  a.name = "vit_c" + std::to_string(c) + "_" + std::to_string(h) + "x" + std::to_string(w) + "_p" + std::to_string(p) +
           "_d" + std::to_string(d) + "_l" + std::to_string(r.vit_depth) + "_h" + std::to_string(heads) + "_m" +
           std::to_string(m);
  int level = 0;
  a.layers.push_back(layer("patch", LayerKind::conv2d, level, {d, c, p, p}));
  LayerSpec embed;
  embed.name = "embed";
  embed.kind = LayerKind::embedding;
  embed.level = level;
  embed.tensors = {TensorSpec{"embed.cls", "embedding", {1, d}}, TensorSpec{"embed.position", "embedding", {tokens, d}}};
  a.layers.push_back(std::move(embed));
  for (int64_t b = 0; b < r.vit_depth; ++b) {
    const std::string B = "block" + std::to_string(b);
    LayerSpec n1 = layer(B + ".norm1", LayerKind::norm, ++level, {d});
    a.layers.push_back(std::move(n1));
    a.layers.push_back(layer(B + ".qkv", LayerKind::attention, ++level, {3 * d, d}));
    a.layers.push_back(layer(B + ".proj", LayerKind::linear, ++level, {d, d}));
    a.layers.push_back(layer(B + ".norm2", LayerKind::norm, ++level, {d}));
    a.layers.push_back(layer(B + ".fc1", LayerKind::linear, ++level, {m, d}));
    a.layers.push_back(layer(B + ".fc2", LayerKind::linear, ++level, {d, m}));
    // Heads: q, k and v rows of a head move together with the head's columns of the output projection.
    Symmetry hs;
    hs.name = B + ".heads";
    hs.size = heads;
    for (int64_t part = 0; part < 3; ++part) {
      hs.actions.push_back({B + ".qkv.weight", 0, part * d, hd});
      hs.actions.push_back({B + ".qkv.bias", 0, part * d, hd});
    }
    hs.actions.push_back({B + ".proj.weight", 1, 0, hd});
    a.symmetries.push_back(std::move(hs));
    a.symmetries.push_back(units(B + ".mlp", B + ".fc1", B + ".fc2", m));
  }
  a.layers.push_back(layer("norm", LayerKind::norm, ++level, {d}));
  a.layers.push_back(layer("head", LayerKind::linear, ++level, {classes, d}));
  a.attributes.set("family", "vit");
  a.attributes.set("in_channels", c);
  a.attributes.set("patch", p);
  a.attributes.set("dim", d);
  a.attributes.set("depth", r.vit_depth);
  a.attributes.set("heads", heads);
  a.attributes.set("mlp", m);
  a.attributes.set("norm", "pre");
  a.attributes.set("classes", classes);
  return a;
}

// ---- batched forward ----------------------------------------------------------------------------------------

struct Params {
  const ArchitectureSpec& spec;
  const torch::Tensor& flat;
  torch::Tensor operator()(const std::string& name) const {
    const TensorSpec* t = spec.find_tensor(name);
    if (!t) throw std::logic_error("architecture " + spec.name + " has no tensor " + name);
    std::vector<int64_t> shape{flat.size(0)};
    shape.insert(shape.end(), t->shape.begin(), t->shape.end());
    return flat.narrow(1, t->offset, t->numel()).view(shape);
  }
};

torch::Tensor activate(int id, const torch::Tensor& x) {
  switch (id) {
    case 0: return torch::relu(x);
    case 1: return torch::tanh(x);
    case 2: return torch::elu(x);
    default: return torch::gelu(x);
  }
}

// Network-wise values (N) broadcast against x (N, ...).
torch::Tensor per_net(const torch::Tensor& v, const torch::Tensor& x) {
  std::vector<int64_t> shape(static_cast<std::size_t>(x.dim()), 1);
  shape[0] = v.size(0);
  return v.view(shape);
}

struct Step {
  const BatchedNets& nets;
  std::vector<int> distinct;
  torch::Tensor act_ids;

  explicit Step(const BatchedNets& n) : nets(n) {
    distinct = n.activation;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    act_ids = torch::tensor(std::vector<int64_t>(n.activation.begin(), n.activation.end()), torch::kLong)
                  .to(n.params.device());
  }
  torch::Tensor act(const torch::Tensor& x) const {
    if (distinct.size() == 1) return activate(distinct[0], x);
    torch::Tensor out;
    for (int id : distinct) {
      const auto y = activate(id, x) * per_net((act_ids == id).to(x.dtype()), x);
      out = out.defined() ? out + y : y;
    }
    return out;
  }
  torch::Tensor drop(const torch::Tensor& x) const {
    if (!nets.train || !nets.dropout.defined()) return x;
    const auto p = per_net(nets.dropout.to(x.dtype()), x);
    const auto u = torch::rand(x.sizes(), nets.generator, x.options());
    return x * (u >= p).to(x.dtype()) / (1 - p);
  }
};

// N networks' convolutions: x (N, B, Cin, H, W), weight (N, Cout, Cin, k, k) -> (N, B, Cout, H', W').
// Several networks: one grouped convolution; one network: a plain convolution.
torch::Tensor conv(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b, int64_t stride) {
  const int64_t n = w.size(0), batch = x.size(1);
  const std::vector<int64_t> s{stride, stride}, pad{0, 0}, dil{1, 1};  // IntArrayRef must not outlive these
  if (n > 1) {
    const auto g = x.transpose(0, 1).reshape({batch, n * x.size(2), x.size(3), x.size(4)});
    const auto y = torch::conv2d(g, w.reshape({n * w.size(1), w.size(2), w.size(3), w.size(4)}), b.reshape({-1}), s, pad, dil, n);
    return y.view({batch, n, w.size(1), y.size(2), y.size(3)}).transpose(0, 1);
  }
  return torch::conv2d(x[0], w[0], b[0], s, pad, dil, 1).unsqueeze(0);
}

torch::Tensor max_pool(const torch::Tensor& x) {  // (N, B, C, H, W), 2x2
  const auto y = torch::max_pool2d(x.flatten(0, 1), 2);
  return y.view({x.size(0), x.size(1), y.size(1), y.size(2), y.size(3)});
}

// x (N, B, in), weight (N, out, in), bias (N, out) -> (N, B, out).
torch::Tensor dense(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  return torch::baddbmm(b.unsqueeze(1), x, w.transpose(1, 2));
}

torch::Tensor layer_norm(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  // x (N, B, T, D); w, b (N, D)
  const auto y = torch::layer_norm(x, {x.size(-1)}, {}, {}, 1e-5);
  return y * w.unsqueeze(1).unsqueeze(1) + b.unsqueeze(1).unsqueeze(1);
}

torch::Tensor forward_arch1(const Step& s, const Params& P, const torch::Tensor& x) {
  auto h = x;
  for (int i = 0; i < 3; ++i) {
    const std::string c = "conv" + std::to_string(i);
    h = s.drop(s.act(conv(h, P(c + ".weight"), P(c + ".bias"), 2)));
  }
  return dense(h.mean({3, 4}), P("dense.weight"), P("dense.bias"));  // global average pooling -> (N, B, 16)
}

torch::Tensor forward_arch2(const Step& s, const Params& P, const torch::Tensor& x) {
  auto h = s.drop(s.act(max_pool(conv(x, P("conv0.weight"), P("conv0.bias"), 1))));
  h = s.drop(s.act(max_pool(conv(h, P("conv1.weight"), P("conv1.bias"), 1))));
  h = s.drop(s.act(dense(h.flatten(2), P("dense0.weight"), P("dense0.bias"))));  // flatten in (C, H, W) order
  return dense(h, P("dense1.weight"), P("dense1.bias"));
}

torch::Tensor forward_vit(const Step& s, const Params& P, const torch::Tensor& x, const Json& attrs) {
  const int64_t n = x.size(0), b = x.size(1), p = attrs.at("patch").as_int(), d = attrs.at("dim").as_int(),
                heads = attrs.at("heads").as_int(), depth = attrs.at("depth").as_int(), hd = d / heads;
  auto h = conv(x, P("patch.weight"), P("patch.bias"), p);  // (N, B, D, H/p, W/p)
  h = h.flatten(3).transpose(2, 3);                          // (N, B, T-1, D)
  const auto cls = P("embed.cls").unsqueeze(1).expand({n, b, 1, d});
  h = torch::cat({cls, h}, 2) + P("embed.position").unsqueeze(1);  // (N, B, T, D)
  const int64_t t = h.size(2);
  for (int64_t k = 0; k < depth; ++k) {
    const std::string B = "block" + std::to_string(k);
    auto y = layer_norm(h, P(B + ".norm1.weight"), P(B + ".norm1.bias"));
    auto qkv = dense(y.reshape({n, b * t, d}), P(B + ".qkv.weight"), P(B + ".qkv.bias"));  // (N, B*T, 3D)
    qkv = qkv.view({n, b, t, 3, heads, hd}).permute({3, 0, 1, 4, 2, 5});                  // (3, N, B, H, T, hd)
    const auto q = qkv[0].reshape({-1, t, hd}), kk = qkv[1].reshape({-1, t, hd}), v = qkv[2].reshape({-1, t, hd});
    const auto att = torch::softmax(torch::bmm(q, kk.transpose(1, 2)) / std::sqrt(static_cast<double>(hd)), -1);
    auto o = torch::bmm(att, v).view({n, b, heads, t, hd}).permute({0, 1, 3, 2, 4}).reshape({n, b * t, d});
    h = h + dense(o, P(B + ".proj.weight"), P(B + ".proj.bias")).view({n, b, t, d});
    y = layer_norm(h, P(B + ".norm2.weight"), P(B + ".norm2.bias")).reshape({n, b * t, d});
    y = s.drop(s.act(dense(y, P(B + ".fc1.weight"), P(B + ".fc1.bias"))));
    h = h + dense(y, P(B + ".fc2.weight"), P(B + ".fc2.bias")).view({n, b, t, d});
  }
  const auto first = h.select(2, 0).unsqueeze(2);  // class token (N, B, 1, D)
  const auto z = layer_norm(first, P("norm.weight"), P("norm.bias")).squeeze(2);
  return dense(z, P("head.weight"), P("head.bias"));
}

}  // namespace

const std::vector<std::string>& activation_names() {
  static const std::vector<std::string> names = {"relu", "tanh", "elu", "gelu"};
  return names;
}

zoo::ArchitectureSpec cnn_architecture(const CnnRecipe& r, int64_t channels, int64_t height, int64_t width,
                                       int64_t classes) {
  ArchitectureSpec a;
  if (r.arch == "arch1") a = arch1(channels, height, width, classes);
  else if (r.arch == "arch2") a = arch2(channels, height, width, classes);
  else if (r.arch == "vit") a = vit(r, channels, height, width, classes);
  else throw ConfigError("unknown architecture '" + r.arch + "' (generate.cnn.arch; known: arch1, arch2, vit)");
  a.attributes.set("image", Json(std::vector<Json>{Json(channels), Json(height), Json(width)}));
  a.assign_offsets();
  return a;
}

torch::Tensor batched_forward(const BatchedNets& nets, const torch::Tensor& x) {
  const ArchitectureSpec& spec = *nets.spec;
  if (x.dim() != 5 || x.size(0) != nets.params.size(0))
    throw std::invalid_argument("batched_forward: expected images (N, B, C, H, W) with N = " +
                                std::to_string(nets.params.size(0)));
  if (static_cast<int64_t>(nets.activation.size()) != x.size(0))
    throw std::invalid_argument("batched_forward: one activation per network expected");
  const bool per_network = nets.mode == "per_network" || (nets.mode == "auto" && !x.is_cuda());
  if (nets.mode != "auto" && nets.mode != "grouped" && nets.mode != "per_network")
    throw std::invalid_argument("batched_forward: unknown mode '" + nets.mode + "'");
  if (per_network && x.size(0) > 1) {
    // On a CPU, one network at a time: grouped convolutions measured 3-5x slower there than a loop of plain ones,
    // and per-network activations stay small enough for the allocator to reuse (whole-batch tensors of tens of
    // MiB are fresh mmaps whose pages the kernel zeroes on every step).
    std::vector<torch::Tensor> out;
    for (int64_t k = 0; k < x.size(0); ++k) {
      BatchedNets one = nets;
      one.params = nets.params.narrow(0, k, 1);
      one.activation = {nets.activation[static_cast<std::size_t>(k)]};
      if (nets.dropout.defined()) one.dropout = nets.dropout.narrow(0, k, 1);
      out.push_back(batched_forward(one, x.narrow(0, k, 1)));
    }
    return torch::cat(out);
  }
  const Step step(nets);
  const Params P{spec, nets.params};
  const std::string family = spec.attributes.at("family").as_string();
  if (family == "arch1") return forward_arch1(step, P, x);
  if (family == "arch2") return forward_arch2(step, P, x);
  if (family == "vit") return forward_vit(step, P, x, spec.attributes);
  throw std::invalid_argument("batched_forward: architecture family '" + family + "' is not an image classifier");
}

}  // namespace sne::generators
