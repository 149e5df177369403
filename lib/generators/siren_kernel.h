#pragma once
// One sine-wave INR's training step on the CPU as hand-written loops: the SIREN 1 -> h -> h -> 1's loss and
// gradient in one pass over the sample points, in blocks small enough to stay in the L1 cache, with sin and cos
// of every pre-activation computed once (a fused sincos) and the cos reused by the backward pass; then Adam.
// Each INR is computed by one thread from its own data only, so a zoo is bit-identical whatever the batch or
// the thread count. It is the CPU path of train_sines (sine_inr.cpp); the LibTorch path serves CUDA.
//
// No LibTorch types here: flat float arrays, parameters in the zoo's order (l0.weight [h,1], l0.bias [h],
// l1.weight [h,h], l1.bias [h], l2.weight [1,h], l2.bias [1]).
#include <cstddef>
#include <cstdint>

namespace sne::generators::kernels {

struct SirenShape {
  int64_t hidden = 32;
  int64_t points = 2000;
  float w0 = 30.0f;            ///< sin(w0 * (W x + b))
  float output_offset = 0.5f;  ///< added to the output
  int64_t num_params() const { return 3 * hidden + hidden * hidden + hidden + 1; }
};

/// Floats of per-thread scratch space siren_loss_and_grad needs.
std::size_t siren_workspace_floats(const SirenShape& s);

/// Mean squared error of the INR `params` against `target` [points] at `x` [points]; its gradient into `grad`
/// [num_params] (overwritten). `work`: siren_workspace_floats(s) floats.
double siren_loss_and_grad(const SirenShape& s, const float* x, const float* target, const float* params,
                           float* grad, float* work);

/// One Adam update as torch.optim.Adam with L2 weight decay (added to the gradient): `step_size` is
/// lr / (1 - beta1^t), `sqrt_bc2` is sqrt(1 - beta2^t). `grad` is modified (the decay is added).
void adam_update(int64_t n, float* params, float* grad, float* m, float* v, float step_size, float sqrt_bc2,
                 float beta1, float beta2, float eps, float weight_decay);

/// sin and cos of x at once (Cody-Waite reduction by pi/2, Cephes' polynomials; a few ulp for |x| < 1e4).
void sincos_approx(const float* x, int64_t n, float* s, float* c);

}  // namespace sne::generators::kernels
