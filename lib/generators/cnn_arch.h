#pragma once
// The image-classifier architectures of the CNN zoos, declared as zoo architecture specs (layers, tensors in
// PyTorch order, symmetry spec), and one batched forward pass that runs N networks of one spec at once from
// their flat parameter rows: convolutions as grouped convolutions, dense layers as batched matrix products.
//  - arch1: Unterthiner et al.'s Small CNN: 3 x Conv(16, 3x3, stride 2, valid) + global average pooling + Dense(10)
//           (4970 parameters for one channel, whatever the image size).
//  - arch2: Conv(8, 5x5) -> max-pool 2 -> Conv(8, 3x3) -> max-pool 2 -> flatten -> Dense(32) -> Dense(10);
//           keeps the image channels; flatten -> dense makes conv1's channels act on blocks of dense0's columns.
//  - vit:   a small pre-LN vision transformer: patch embedding, class token, learned positions, `depth` blocks of
//           multi-head attention and an MLP, final norm, linear head on the class token.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "config/config.h"
#include "zoo/architecture.h"

namespace sne::generators {

using CnnRecipe = config::CnnZooSettings;

/// The spec of `recipe.arch` for images of the given shape. Throws ConfigError when the shape does not suit it
/// (e.g. images too small for arch2's two poolings, a ViT patch size that does not divide the image).
zoo::ArchitectureSpec cnn_architecture(const CnnRecipe& recipe, int64_t channels, int64_t height, int64_t width,
                                       int64_t classes = 10);

/// The activations the generator samples from.
const std::vector<std::string>& activation_names();

/// Per-network settings of one batched forward pass.
struct BatchedNets {
  const zoo::ArchitectureSpec* spec = nullptr;
  torch::Tensor params;           ///< (N, P) flat rows in spec order (may require grad)
  std::vector<int> activation;    ///< N indices into activation_names()
  torch::Tensor dropout;          ///< (N) rates, used when `train` is true; undefined = none
  bool train = false;
  torch::Generator generator;     ///< for dropout masks (undefined = the default generator)
  /// How the networks run: "auto" (grouped on a GPU, one network at a time on a CPU, which measured faster
  /// there), "grouped" (grouped convolutions, batched matrix products) or "per_network".
  std::string mode = "auto";
};

/// Logits (N, B, classes) of N networks on their own images `x` (N, B, C, H, W), float32 in [-1, 1].
torch::Tensor batched_forward(const BatchedNets& nets, const torch::Tensor& x);

}  // namespace sne::generators
