#pragma once
// The training runs of a CNN zoo: hyper-parameters sampled per run from its own seed (Unterthiner et al. 2020
// style), initial weights, the images as tensors, and the batched training of many runs at once, each with its own
// optimiser state and data order, evaluated at the checkpoint epochs. cnn_zoo.h writes them to a zoo file.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/json.h"
#include "data/images.h"
#include "generators/cnn_arch.h"
#include "runtime/context.h"

namespace sne::generators {

/// SplitMix64's finaliser: the seeds of runs, initialisations, data orders and splits derive from it.
uint64_t mix_seed(uint64_t x);

/// The hyper-parameters of one training run, drawn from its own seed only.
struct CnnRun {
  int64_t run = 0;
  uint64_t seed = 0;
  int activation = 0;       ///< index into activation_names()
  std::string optimizer;    ///< sgd | adam | rmsprop
  std::string init;         ///< normal | truncated_normal | glorot_uniform | he_normal
  double lr = 0, l2 = 0, dropout = 0, init_std = 0, train_fraction = 1;
};

/// The parsed, checked lists of a recipe (ConfigError naming the key for an unknown or malformed entry).
struct CnnChoices {
  std::vector<int> activations;
  std::vector<std::string> optimizers, inits;
  std::vector<double> train_fractions;
  std::vector<int64_t> checkpoint_epochs;  ///< sorted, unique, within [0, epochs], ends with epochs
};
CnnChoices parse_cnn_choices(const CnnRecipe& r);

/// The seed of run `run` of a zoo generated with master seed `seed`.
uint64_t cnn_run_seed(int64_t seed, int64_t run);
CnnRun sample_cnn_run(const CnnRecipe& r, const CnnChoices& c, int64_t seed, int64_t run);
/// Initial weights of a run (flat, spec order): conv/linear weights by the run's init, biases 0, norm scales 1,
/// embeddings N(0, 0.02).
std::vector<float> init_cnn_params(const zoo::ArchitectureSpec& spec, const CnnRun& run);

/// The recipe as JSON (stored in the zoo's provenance; compared on resume).
Json cnn_recipe_json(const CnnRecipe& r, int64_t seed);

/// One stored checkpoint of a run.
struct CnnCheckpoint {
  int64_t epoch = 0;
  double test_accuracy = 0, test_loss = 0, train_accuracy = 0, train_loss = 0;
  std::vector<float> params;
};
struct CnnResult {
  CnnRun run;
  int64_t diverged_epoch = -1;  ///< the epoch in which an update made the weights non-finite; -1 = never
  std::vector<CnnCheckpoint> checkpoints;
};

/// Images as float tensors in [-1, 1] on the context's device, with the recipe's reductions applied.
struct CnnData {
  torch::Tensor train_x, train_y, test_x, test_y;  ///< (n, C, H, W) float, (n) long
};
CnnData prepare_cnn_data(const data::Dataset& d, const CnnRecipe& r, const Context& ctx);

/// Trains the runs `runs` (all of one batch at once). `on_epoch(epoch)` is called after each epoch and
/// `on_step()` after each optimisation step of the batch.
/// Returns an empty vector when `*stop` turned true (nothing partial is returned).
/// `mode` is BatchedNets::mode ("auto": grouped on a GPU, one network at a time on a CPU).
std::vector<CnnResult> train_cnn_runs(const zoo::ArchitectureSpec& spec, const CnnRecipe& r, const CnnChoices& c,
                                      const std::vector<CnnRun>& runs, const CnnData& data, const Context& ctx,
                                      const std::atomic<bool>* stop = nullptr,
                                      const std::function<void(int64_t)>& on_epoch = {},
                                      const std::string& mode = "auto", const std::function<void()>& on_step = {});

/// Training images of a run with this training fraction: max(1, round(fraction * n_train)).
int64_t cnn_subset_size(double fraction, int64_t n_train);

/// Optimisation steps per epoch of a batch of runs: its largest training subset in batches (the others compute
/// masked meanwhile).
int64_t cnn_batch_steps(const std::vector<CnnRun>& runs, int64_t n_train, int64_t batch_size);

}  // namespace sne::generators
