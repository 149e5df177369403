#include "zoo/architecture.h"

#include <set>
#include <tuple>
#include <map>
#include <stdexcept>

#include "core/strings.h"

namespace sne::zoo {
namespace {

struct KindName {
  LayerKind kind;
  const char* name;
};
constexpr KindName kKinds[] = {
    {LayerKind::linear, "linear"}, {LayerKind::conv1d, "conv1d"}, {LayerKind::conv2d, "conv2d"},
    {LayerKind::attention, "attention"}, {LayerKind::norm, "norm"}, {LayerKind::embedding, "embedding"},
    {LayerKind::other, "other"},
};

// Runs `f` and prefixes any error with the member path it concerns.
template <class F>
auto at_path(const std::string& path, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

const Json& member(const Json& j, const std::string& key, const std::string& path) {
  return at_path(path, [&]() -> const Json& { return j.at(key); });
}

}  // namespace

const char* to_string(LayerKind kind) {
  for (const auto& k : kKinds)
    if (k.kind == kind) return k.name;
  return "other";
}

std::vector<std::string> layer_kind_names() {
  std::vector<std::string> out;
  for (const auto& k : kKinds) out.emplace_back(k.name);
  return out;
}

LayerKind layer_kind_from_string(const std::string& name) {
  for (const auto& k : kKinds)
    if (name == k.name) return k.kind;
  throw std::invalid_argument("unknown layer kind '" + name + "' (known: " + join(layer_kind_names()) + ")");
}

int64_t TensorSpec::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t ArchitectureSpec::num_params() const {
  int64_t n = 0;
  for (const auto& l : layers)
    for (const auto& t : l.tensors) n += t.numel();
  return n;
}

void ArchitectureSpec::assign_offsets() {
  int64_t off = 0;
  for (auto& l : layers)
    for (auto& t : l.tensors) {
      t.offset = off;
      off += t.numel();
    }
}

const TensorSpec* ArchitectureSpec::find_tensor(const std::string& name) const {
  for (const auto& l : layers)
    for (const auto& t : l.tensors)
      if (t.name == name) return &t;
  return nullptr;
}

std::vector<std::string> ArchitectureSpec::problems() const {
  std::vector<std::string> out;
  const std::string who = "architecture '" + name + "'";
  if (name.empty()) out.push_back("architecture has an empty name");
  if (layers.empty()) out.push_back(who + " has no layers");
  std::set<std::string> tensor_names, layer_names;
  for (const auto& l : layers) {
    if (!layer_names.insert(l.name).second) out.push_back(who + ": layer name '" + l.name + "' is used twice");
    if (l.level < 0) out.push_back(who + ": layer '" + l.name + "' has negative level " + std::to_string(l.level));
    if (l.tensors.empty()) out.push_back(who + ": layer '" + l.name + "' has no tensors");
    for (const auto& t : l.tensors) {
      if (!tensor_names.insert(t.name).second) out.push_back(who + ": tensor name '" + t.name + "' is used twice");
      if (t.shape.empty()) out.push_back(who + ": tensor '" + t.name + "' has an empty shape");
      for (int64_t d : t.shape)
        if (d <= 0) out.push_back(who + ": tensor '" + t.name + "' has a non-positive dimension");
    }
  }
  // (tensor, axis) -> the index ranges the symmetries permute there, to find two acting on the same entries.
  std::map<std::pair<std::string, int>, std::vector<std::tuple<int64_t, int64_t, std::string>>> ranges;
  for (const auto& s : symmetries) {
    const std::string sw = who + ": symmetry '" + s.name + "'";
    if (s.kind != "permutation") out.push_back(sw + " has unsupported kind '" + s.kind + "' (known: permutation)");
    if (s.size < 1) out.push_back(sw + " has size " + std::to_string(s.size) + " (expected >= 1)");
    if (s.actions.empty()) out.push_back(sw + " has no actions");
    for (const auto& a : s.actions) {
      const TensorSpec* t = find_tensor(a.tensor);
      if (!t) {
        out.push_back(sw + " acts on unknown tensor '" + a.tensor + "'");
        continue;
      }
      if (a.axis < 0 || a.axis >= static_cast<int>(t->shape.size())) {
        out.push_back(sw + ": axis " + std::to_string(a.axis) + " is out of range for tensor '" + a.tensor +
                      "' of rank " + std::to_string(t->shape.size()));
        continue;
      }
      if (a.block < 1 || a.offset < 0 || a.offset + s.size * a.block > t->shape[a.axis]) {
        out.push_back(sw + ": range [" + std::to_string(a.offset) + ", " +
                      std::to_string(a.offset + s.size * a.block) + ") exceeds axis " + std::to_string(a.axis) +
                      " of tensor '" + a.tensor + "' (length " + std::to_string(t->shape[a.axis]) + ")");
        continue;
      }
      auto& used = ranges[{a.tensor, a.axis}];
      const int64_t lo = a.offset, hi = a.offset + s.size * a.block;
      for (const auto& [ulo, uhi, owner] : used)
        if (lo < uhi && ulo < hi)
          out.push_back(sw + ": acts on entries [" + std::to_string(lo) + ", " + std::to_string(hi) + ") of axis " +
                        std::to_string(a.axis) + " of tensor '" + a.tensor + "', which " +
                        (owner == s.name ? "this symmetry already permutes" : "symmetry '" + owner + "' permutes") +
                        "; a unit's entries can follow one permutation only");
      used.emplace_back(lo, hi, s.name);
    }
  }
  return out;
}

Json ArchitectureSpec::to_json() const {
  Json j = Json::object();
  j.set("name", name);
  j.set("attributes", attributes);
  Json ls = Json::array();
  for (const auto& l : layers) {
    Json lj = Json::object();
    lj.set("name", l.name);
    lj.set("kind", to_string(l.kind));
    lj.set("level", l.level);
    lj.set("attributes", l.attributes);
    Json ts = Json::array();
    for (const auto& t : l.tensors) {
      Json tj = Json::object();
      tj.set("name", t.name);
      tj.set("role", t.role);
      Json shape = Json::array();
      for (int64_t d : t.shape) shape.push_back(Json(static_cast<long long>(d)));
      tj.set("shape", shape);
      ts.push_back(tj);
    }
    lj.set("tensors", ts);
    ls.push_back(lj);
  }
  j.set("layers", ls);
  Json ss = Json::array();
  for (const auto& s : symmetries) {
    Json sj = Json::object();
    sj.set("name", s.name);
    sj.set("kind", s.kind);
    sj.set("size", static_cast<long long>(s.size));
    Json as = Json::array();
    for (const auto& a : s.actions) {
      Json aj = Json::object();
      aj.set("tensor", a.tensor);
      aj.set("axis", a.axis);
      if (a.offset != 0) aj.set("offset", static_cast<long long>(a.offset));
      if (a.block != 1) aj.set("block", static_cast<long long>(a.block));
      as.push_back(aj);
    }
    sj.set("actions", as);
    ss.push_back(sj);
  }
  j.set("symmetries", ss);
  return j;
}

ArchitectureSpec ArchitectureSpec::from_json(const Json& j) {
  ArchitectureSpec a;
  a.name = at_path("name", [&] { return member(j, "name", "spec").as_string(); });
  if (const Json* attrs = j.find("attributes")) a.attributes = *attrs;
  const auto& layers = at_path("layers", [&]() -> const Json::Array& { return member(j, "layers", "spec").as_array(); });
  for (std::size_t li = 0; li < layers.size(); ++li) {
    const std::string lp = "layers[" + std::to_string(li) + "]";
    const Json& lj = layers[li];
    LayerSpec l;
    l.name = at_path(lp + ".name", [&] { return lj.at("name").as_string(); });
    l.kind = at_path(lp + ".kind", [&] { return layer_kind_from_string(lj.at("kind").as_string()); });
    l.level = static_cast<int>(at_path(lp + ".level", [&] { return lj.at("level").as_int(); }));
    if (const Json* attrs = lj.find("attributes")) l.attributes = *attrs;
    const auto& ts = at_path(lp + ".tensors", [&]() -> const Json::Array& { return lj.at("tensors").as_array(); });
    for (std::size_t ti = 0; ti < ts.size(); ++ti) {
      const std::string tp = lp + ".tensors[" + std::to_string(ti) + "]";
      TensorSpec t;
      t.name = at_path(tp + ".name", [&] { return ts[ti].at("name").as_string(); });
      if (const Json* role = ts[ti].find("role")) t.role = at_path(tp + ".role", [&] { return role->as_string(); });
      const auto& shape = at_path(tp + ".shape", [&]() -> const Json::Array& { return ts[ti].at("shape").as_array(); });
      for (const auto& d : shape) t.shape.push_back(at_path(tp + ".shape", [&] { return d.as_int(); }));
      l.tensors.push_back(std::move(t));
    }
    a.layers.push_back(std::move(l));
  }
  if (const Json* syms = j.find("symmetries")) {
    const auto& arr = at_path("symmetries", [&]() -> const Json::Array& { return syms->as_array(); });
    for (std::size_t si = 0; si < arr.size(); ++si) {
      const std::string sp = "symmetries[" + std::to_string(si) + "]";
      const Json& sj = arr[si];
      Symmetry s;
      s.name = at_path(sp + ".name", [&] { return sj.at("name").as_string(); });
      if (const Json* kind = sj.find("kind")) s.kind = at_path(sp + ".kind", [&] { return kind->as_string(); });
      s.size = at_path(sp + ".size", [&] { return sj.at("size").as_int(); });
      const auto& acts = at_path(sp + ".actions", [&]() -> const Json::Array& { return sj.at("actions").as_array(); });
      for (std::size_t ai = 0; ai < acts.size(); ++ai) {
        const std::string ap = sp + ".actions[" + std::to_string(ai) + "]";
        SymmetryAction act;
        act.tensor = at_path(ap + ".tensor", [&] { return acts[ai].at("tensor").as_string(); });
        act.axis = static_cast<int>(at_path(ap + ".axis", [&] { return acts[ai].at("axis").as_int(); }));
        if (const Json* o = acts[ai].find("offset")) act.offset = at_path(ap + ".offset", [&] { return o->as_int(); });
        if (const Json* b = acts[ai].find("block")) act.block = at_path(ap + ".block", [&] { return b->as_int(); });
        s.actions.push_back(std::move(act));
      }
      a.symmetries.push_back(std::move(s));
    }
  }
  a.assign_offsets();
  return a;
}

bool operator==(const ArchitectureSpec& a, const ArchitectureSpec& b) { return a.to_json() == b.to_json(); }

}  // namespace sne::zoo
