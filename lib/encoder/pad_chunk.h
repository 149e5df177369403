#pragma once
// Pad-chunk (SNE section 3): each parameter tensor, flattened in PyTorch (neuron-major) order, is zero-padded
// to a multiple of the chunk size c and cut into chunks of c elements, with a mask marking real elements.
// Many tensors are packed into one [total_chunks, c] block so that a batch of networks of any architectures
// is encoded by a few large operations.
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "zoo/architecture.h"

namespace sne::encoder {

/// Chunks of many tensors, packed.
struct Chunks {
  at::Tensor values;  ///< [total_chunks, c] float32, zeros where padded
  at::Tensor mask;    ///< [total_chunks, c] bool, true for real elements
  at::Tensor owner;   ///< [total_chunks] int64, index of the tensor each chunk belongs to
  at::Tensor lengths; ///< [total_chunks] int32, real elements of each chunk (a prefix of it: 1..c)
  at::Tensor start;   ///< [total_chunks] int64, index in its tensor's flat order of each chunk's first element
  std::vector<int64_t> first_chunk;  ///< [tensors + 1]: tensor t owns chunks [first_chunk[t], first_chunk[t+1])
  std::vector<int64_t> numel;        ///< [tensors]: elements of each tensor
};

/// Chunks of c elements for each flat tensor; an empty tensor gets no chunk. Throws std::invalid_argument for c < 1.
Chunks pad_chunk(const std::vector<at::Tensor>& flat_tensors, int64_t c);

/// The flat tensors back from their chunks (the inverse of pad_chunk).
std::vector<at::Tensor> unpad(const Chunks& chunks);

/// Whether every permutation of every symmetry of `spec` maps the chunks of size c of each tensor it acts on
/// onto chunks, as sets of values: along each action's axis the moved units' blocks are either runs of whole
/// chunks at the same alignment (a row of a hidden layer at c dividing its length) or lie, for each index of the
/// axes before it, inside one chunk (a row's inputs at c = the row's length). A set encoder of chunks is then
/// invariant to the zoo's symmetries by construction. False for any symmetry kind other than "permutation".
bool symmetries_preserve_chunks(const zoo::ArchitectureSpec& spec, int64_t c);

}  // namespace sne::encoder
