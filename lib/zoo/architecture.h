#pragma once
// The declared structure of one architecture in a zoo: layers, their parameter tensors, and the
// symmetry spec (which tensor axes a function-preserving permutation moves together).
// Serialised as JSON in the attribute `spec` of /architectures/<name> (docs/zoo-format.md).
#include <cstdint>
#include <string>
#include <vector>

#include "core/json.h"

namespace sne::zoo {

/// Layer kinds the encoder knows. The id is stable: it feeds the layer-type positional encoding.
enum class LayerKind : int { linear = 0, conv1d = 1, conv2d = 2, attention = 3, norm = 4, embedding = 5, other = 6 };

const char* to_string(LayerKind kind);
/// Throws std::invalid_argument listing the known kinds when `name` is not one.
LayerKind layer_kind_from_string(const std::string& name);
std::vector<std::string> layer_kind_names();

/// One parameter tensor, stored flattened in row-major (PyTorch) order.
struct TensorSpec {
  std::string name;              ///< unique within the architecture, e.g. "conv0.weight"
  std::string role;              ///< "weight", "bias" or another free-form role
  std::vector<int64_t> shape;    ///< PyTorch order: (out, in, kh, kw) for conv, (out, in) for linear
  int64_t offset = 0;            ///< first element in the network's flat parameter row (derived)
  int64_t numel() const;
};

struct LayerSpec {
  std::string name;
  LayerKind kind = LayerKind::linear;
  int level = 0;                 ///< depth index from input (0) to output
  std::vector<TensorSpec> tensors;
  Json attributes = Json::object();  ///< free-form: activation, stride, padding, ...
};

/// One place a symmetry acts: along `axis` of `tensor`, the index range [offset, offset + size*block) is cut into
/// `size` contiguous blocks of `block` elements; unit i's block moves to position perm[i].
struct SymmetryAction {
  std::string tensor;
  int axis = 0;
  int64_t offset = 0;
  int64_t block = 1;
};

/// A group of `size` units (hidden neurons, channels, heads, ...) whose joint permutation preserves the function.
struct Symmetry {
  std::string name;
  std::string kind = "permutation";  ///< only "permutation" in format version 1
  int64_t size = 0;
  std::vector<SymmetryAction> actions;
};

struct ArchitectureSpec {
  std::string name;
  std::vector<LayerSpec> layers;
  std::vector<Symmetry> symmetries;
  Json attributes = Json::object();   ///< free-form: input shape, activation, recipe quirks, ...

  /// Total parameter count (sum of tensor sizes).
  int64_t num_params() const;
  /// Fills TensorSpec::offset in declaration order; called by from_json and by builders.
  void assign_offsets();
  /// The tensor with this name, or nullptr.
  const TensorSpec* find_tensor(const std::string& name) const;
  /// Every problem with the spec (empty when valid), each a sentence naming the layer/tensor/symmetry.
  std::vector<std::string> problems() const;

  Json to_json() const;
  /// Throws std::runtime_error naming the member path ("layers[2].tensors[0].shape") on malformed input.
  static ArchitectureSpec from_json(const Json& j);
};

bool operator==(const ArchitectureSpec& a, const ArchitectureSpec& b);

}  // namespace sne::zoo
