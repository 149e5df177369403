#pragma once
// The sine-wave INR zoo (DWSNets recipe, used by SNE's INR-frequency task): SIRENs 1 -> h -> h -> 1 fit to
// a*sin(b*x) on [-pi, pi), b ~ U(freq_min, freq_max), trained with Adam until the loss reaches the target.
// Many INRs train at once as one batched computation, each with its own Adam state, step count and early stop;
// a finished INR's slot is refilled with the next one, so the batch stays full.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/json.h"
#include "runtime/context.h"
#include "zoo/architecture.h"

namespace sne::generators {

using SineRecipe = config::SineZooSettings;

/// The recipe as JSON (stored in the zoo's provenance; compared on resume).
Json sine_recipe_json(const SineRecipe& r, int64_t seed);
/// Throws ConfigError for inconsistent recipe values (e.g. freq_min >= freq_max).
void check_sine_recipe(const SineRecipe& r);

/// The SIREN's architecture spec with its symmetries (hidden units of both sine layers).
zoo::ArchitectureSpec siren_architecture(const SineRecipe& r);

/// One INR's draw: its frequency and initial weights (flat, in spec order), from its own seed only.
struct SineInit {
  double frequency;
  std::vector<float> params;
};
SineInit sine_init(const SineRecipe& r, uint64_t inr_seed);
/// The seed of INR `index` of a zoo generated with master seed `seed`.
uint64_t sine_inr_seed(int64_t seed, int64_t index);

/// A trained INR.
struct SineResult {
  int64_t inr = 0;           ///< index of the INR in the recipe (its seed derives from it)
  double frequency = 0;
  double final_loss = 0;     ///< MSE of the returned weights
  int64_t steps = 0;         ///< Adam updates made
  std::vector<float> params;
};

/// Trains the INRs `inrs` (indices) with up to recipe.batch at once. `on_done` receives each INR as it finishes
/// (in completion order). Returns early, without partial INRs, when `*stop` becomes true.
/// `on_step(active)` is called after every batched step (for progress).
void train_sines(const SineRecipe& r, int64_t seed, const std::vector<int64_t>& inrs, const Context& ctx,
                 const std::function<void(SineResult&&)>& on_done, const std::atomic<bool>* stop = nullptr,
                 const std::function<void(int64_t)>& on_step = {});

/// The INR's output at x for flat weights `params` (plain loops, independent of the training code).
double siren_forward(const SineRecipe& r, const float* params, double x);

}  // namespace sne::generators
