#pragma once
// LibTorch's side of the hand-written chunk-stage kernel (chunk_kernel.h): an autograd function whose forward
// runs the kernel and whose backward fills the gradient of every chunk-stage parameter.
#include <ATen/ATen.h>

#include <vector>

#include "encoder/fused/chunk_kernel.h"

namespace sne::encoder {

/// Stage 1 of SNE for `values` [S, c] float32 (CPU) with `lengths` [S] int32 real elements per chunk and
/// `encoding` [S, d] added after phi1 (an empty tensor: none). `params` are the chunk stage's tensors in the
/// order kernels::parameter_sizes(shape) lists them. Returns [S, d]; differentiable in `params`.
at::Tensor fused_chunk_stage(const kernels::ChunkStageShape& shape, const std::vector<at::Tensor>& params,
                             const at::Tensor& values, const at::Tensor& lengths, const at::Tensor& encoding);

}  // namespace sne::encoder
