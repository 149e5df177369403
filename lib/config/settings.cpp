// Every setting, declared once: key, type, default, check, help, and the Config field it binds to.
// Adding a setting = one entry here + one field in config.h (and, if users should see it, configs/default.yaml).
#include "config/schema.h"

namespace sne::config {

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = {"sne", "mlp", "deepsets", "statnn"};
  return names;
}

}  // namespace sne::config

namespace sne::config::detail {

const std::vector<Setting>& table() {
  // clang-format off
  static const std::vector<Setting> t = {
    // run: process-wide execution settings.
    integer("run.threads", [](Config& c) -> int64_t& { return c.run.threads; },
            0, at_least(0), "intra-op CPU threads; 0 = all cores"),
    integer("run.seed", [](Config& c) -> int64_t& { return c.run.seed; },
            0, at_least(0), "master random seed"),
    choice("run.device", [](Config& c) -> std::string& { return c.run.device; },
           "auto", {"cpu", "cuda", "auto"}, "where tensors live; auto = cuda when available"),
    choice("run.log_level", [](Config& c) -> std::string& { return c.run.log_level; },
           "info", {"trace", "debug", "info", "warn", "error", "off"}, "logging verbosity"),
    string("run.dir", [](Config& c) -> std::string& { return c.run.dir; },
           "runs/default", non_empty(), "sne run: run directory (config.yaml, metrics.jsonl, checkpoints/)"),
    boolean("run.train", [](Config& c) -> bool& { return c.run.train; },
            true, "sne run: after preparing the zoo, train (or resume) and evaluate on the test split"),
    boolean("run.report", [](Config& c) -> bool& { return c.run.report; },
            true, "sne run: after training, draw the run's report (RUN/report/index.html, like sne report RUN); "
                  "without matplotlib a warning names the package"),

    // zoo: the model zoo and how it is read.
    string("zoo.path", [](Config& c) -> std::string& { return c.zoo.path; },
           "zoos/sine_demo.h5", non_empty(), "model-zoo file (HDF5, docs/zoo-format.md)"),
    choice("zoo.generator", [](Config& c) -> std::string& { return c.zoo.generator; },
           "none", {"none", "sine", "cnn"}, "sne run: build (or complete) zoo.path with this generator; none = must exist"),
    integer("zoo.reader.batch_size", [](Config& c) -> int64_t& { return c.zoo.reader.batch_size; },
            64, at_least(1), "networks per batch"),
    number("zoo.reader.memory_budget_mb", [](Config& c) -> double& { return c.zoo.reader.memory_budget_mb; },
           256.0, greater_than(0.0), "bound on the weights the reader buffers, MiB"),
    boolean("zoo.reader.shuffle", [](Config& c) -> bool& { return c.zoo.reader.shuffle; },
            true, "windowed shuffle with the run seed"),
    boolean("zoo.reader.prefetch", [](Config& c) -> bool& { return c.zoo.reader.prefetch; },
            true, "read on a background I/O thread"),

    // generate.sine: the sine-wave INR zoo recipe (DWSNets; SNE paper section 4.1).
    integer("generate.sine.count", [](Config& c) -> int64_t& { return c.generate.sine.count; },
            4000, at_least(1), "INRs to generate"),
    integer("generate.sine.test_count", [](Config& c) -> int64_t& { return c.generate.sine.test_count; },
            1000, at_least(0), "test split size (scaled down when count is too small)"),
    integer("generate.sine.validation_count", [](Config& c) -> int64_t& { return c.generate.sine.validation_count; },
            1000, at_least(0), "validation split size (scaled down when count is too small)"),
    number("generate.sine.freq_min", [](Config& c) -> double& { return c.generate.sine.freq_min; },
           0.5, greater_than(0.0), "lowest frequency b of a*sin(b*x)"),
    number("generate.sine.freq_max", [](Config& c) -> double& { return c.generate.sine.freq_max; },
           10.0, greater_than(0.0), "highest frequency b (exclusive)"),
    number("generate.sine.amplitude", [](Config& c) -> double& { return c.generate.sine.amplitude; },
           1.0, greater_than(0.0), "amplitude a"),
    integer("generate.sine.points", [](Config& c) -> int64_t& { return c.generate.sine.points; },
            2000, at_least(2), "samples of x in [-pi, pi), step 2*pi/points"),
    integer("generate.sine.hidden", [](Config& c) -> int64_t& { return c.generate.sine.hidden; },
            32, at_least(1), "SIREN width (1 -> hidden -> hidden -> 1)"),
    number("generate.sine.w0", [](Config& c) -> double& { return c.generate.sine.w0; },
           30.0, greater_than(0.0), "SIREN w0: sin(w0 * (W x + b))"),
    number("generate.sine.output_offset", [](Config& c) -> double& { return c.generate.sine.output_offset; },
           0.5, unchecked<double>(), "constant added to the INR's output"),
    number("generate.sine.lr", [](Config& c) -> double& { return c.generate.sine.lr; },
           1e-3, greater_than(0.0), "Adam learning rate"),
    number("generate.sine.weight_decay", [](Config& c) -> double& { return c.generate.sine.weight_decay; },
           1e-4, at_least_number(0.0), "Adam weight decay (added to the gradient)"),
    integer("generate.sine.max_steps", [](Config& c) -> int64_t& { return c.generate.sine.max_steps; },
            1500, at_least(1), "optimisation steps at most"),
    number("generate.sine.target_loss", [](Config& c) -> double& { return c.generate.sine.target_loss; },
           1e-4, at_least_number(0.0), "stop an INR as soon as its MSE is <= this"),
    integer("generate.sine.batch", [](Config& c) -> int64_t& { return c.generate.sine.batch; },
            64, at_least(1), "INRs in training at once (on a CPU each INR is one thread's work item; on a GPU one batched computation)"),
    number("generate.sine.flush_seconds", [](Config& c) -> double& { return c.generate.sine.flush_seconds; },
           5.0, greater_than(0.0), "finished INRs are written to the zoo file at least this often, seconds: what a kill can lose (not part of the recipe)"),

    // generate.cnn: image-classifier zoos (`sne zoo generate cnn`, Unterthiner et al. 2020 style sampling).
    choice("generate.cnn.arch", [](Config& c) -> std::string& { return c.generate.cnn.arch; }, "arch1", {"arch1", "arch2", "vit"}, "arch1: 3 conv 3x3/2 + global pooling + dense (4970 parameters for one channel); arch2: conv 5x5, pool, conv 3x3, pool, flatten, 2 dense; vit: a small vision transformer"),
    choice("generate.cnn.dataset", [](Config& c) -> std::string& { return c.generate.cnn.dataset; }, "fashion-mnist", {"fashion-mnist", "mnist", "mnist-subset", "cifar10", "svhn"}, "images the networks learn to classify"),
    string("generate.cnn.data_dir", [](Config& c) -> std::string& { return c.generate.cnn.data_dir; }, "", unchecked<std::string>(), "dataset folder; empty = the dataset's default (fashion-mnist: /usr/share/datasets/fashion-mnist, others: data/NAME)"),
    boolean("generate.cnn.grayscale", [](Config& c) -> bool& { return c.generate.cnn.grayscale; }, false, "convert RGB images to grayscale first (the Small CNN Zoo's CIFAR10-GS, SVHN-GS)"),
    integer("generate.cnn.count", [](Config& c) -> int64_t& { return c.generate.cnn.count; }, 1000, at_least(1), "networks (training runs) to generate"),
    integer("generate.cnn.epochs", [](Config& c) -> int64_t& { return c.generate.cnn.epochs; }, 86, at_least(0), "training epochs of every network"),
    string("generate.cnn.checkpoint_epochs", [](Config& c) -> std::string& { return c.generate.cnn.checkpoint_epochs; }, "0,1,2,3,20,40,60,80,86", non_empty(), "epochs at which a network is stored (each as its own network with property step); must include the last epoch"),
    integer("generate.cnn.batch_size", [](Config& c) -> int64_t& { return c.generate.cnn.batch_size; }, 512, at_least(1), "images per optimisation step"),
    integer("generate.cnn.parallel", [](Config& c) -> int64_t& { return c.generate.cnn.parallel; }, 32, at_least(1), "networks trained at once as one batched computation"),
    integer("generate.cnn.train_examples", [](Config& c) -> int64_t& { return c.generate.cnn.train_examples; }, 0, at_least(0), "train on the first k training images only (0 = all): a reduced recipe"),
    integer("generate.cnn.test_examples", [](Config& c) -> int64_t& { return c.generate.cnn.test_examples; }, 0, at_least(0), "measure test accuracy on the first k test images (0 = all)"),
    integer("generate.cnn.train_eval_examples", [](Config& c) -> int64_t& { return c.generate.cnn.train_eval_examples; }, 10000, at_least(1), "train accuracy and loss on at most k images of a network's training subset"),
    number("generate.cnn.test_fraction", [](Config& c) -> double& { return c.generate.cnn.test_fraction; }, 0.3, between(0.0, 0.9), "fraction of the runs in the test split"),
    number("generate.cnn.validation_fraction", [](Config& c) -> double& { return c.generate.cnn.validation_fraction; }, 0.1, between(0.0, 0.9), "fraction of the runs in the validation split"),
    string("generate.cnn.activations", [](Config& c) -> std::string& { return c.generate.cnn.activations; }, "relu,tanh,elu", non_empty(), "activations sampled uniformly (relu, tanh, elu, gelu)"),
    string("generate.cnn.optimizers", [](Config& c) -> std::string& { return c.generate.cnn.optimizers; }, "sgd,adam,rmsprop", non_empty(), "optimisers sampled uniformly (sgd, adam, rmsprop)"),
    string("generate.cnn.inits", [](Config& c) -> std::string& { return c.generate.cnn.inits; }, "normal,truncated_normal,glorot_uniform,he_normal", non_empty(), "weight initialisations sampled uniformly; normal and truncated_normal use init_std"),
    string("generate.cnn.train_fractions", [](Config& c) -> std::string& { return c.generate.cnn.train_fractions; }, "0.1,0.25,0.5,1", non_empty(), "fractions of the training images a network sees, sampled uniformly"),
    number("generate.cnn.lr_min", [](Config& c) -> double& { return c.generate.cnn.lr_min; }, 5e-4, greater_than(0.0), "learning rate ~ log-uniform [lr_min, lr_max]"),
    number("generate.cnn.lr_max", [](Config& c) -> double& { return c.generate.cnn.lr_max; }, 5e-2, greater_than(0.0), "upper end of the learning-rate range"),
    number("generate.cnn.l2_min", [](Config& c) -> double& { return c.generate.cnn.l2_min; }, 1e-8, greater_than(0.0), "L2 coefficient ~ log-uniform [l2_min, l2_max]"),
    number("generate.cnn.l2_max", [](Config& c) -> double& { return c.generate.cnn.l2_max; }, 1e-2, greater_than(0.0), "upper end of the L2 range"),
    number("generate.cnn.dropout_max", [](Config& c) -> double& { return c.generate.cnn.dropout_max; }, 0.5, between(0.0, 0.9), "dropout rate ~ U(0, dropout_max)"),
    number("generate.cnn.init_std_min", [](Config& c) -> double& { return c.generate.cnn.init_std_min; }, 1e-3, greater_than(0.0), "init std ~ log-uniform [init_std_min, init_std_max]"),
    number("generate.cnn.init_std_max", [](Config& c) -> double& { return c.generate.cnn.init_std_max; }, 0.5, greater_than(0.0), "upper end of the init-std range"),
    integer("generate.cnn.vit_patch", [](Config& c) -> int64_t& { return c.generate.cnn.vit_patch; }, 4, at_least(1), "vit: patch size (divides the image size)"),
    integer("generate.cnn.vit_dim", [](Config& c) -> int64_t& { return c.generate.cnn.vit_dim; }, 64, at_least(2), "vit: embedding width"),
    integer("generate.cnn.vit_depth", [](Config& c) -> int64_t& { return c.generate.cnn.vit_depth; }, 6, at_least(1), "vit: transformer blocks"),
    integer("generate.cnn.vit_heads", [](Config& c) -> int64_t& { return c.generate.cnn.vit_heads; }, 4, at_least(1), "vit: attention heads (divides vit_dim)"),
    integer("generate.cnn.vit_mlp_ratio", [](Config& c) -> int64_t& { return c.generate.cnn.vit_mlp_ratio; }, 2, at_least(1), "vit: MLP width in multiples of vit_dim"),

    // model: what reads the weights; the baselines share the trainer, the predictor and every command.
    choice("model", [](Config& c) -> std::string& { return c.model; }, "sne", model_names(), "sne, or a baseline: mlp (flattened weights), deepsets (all weights as one set), statnn (per-tensor statistics)"),

    // encoder: the SNE encoder (sne-method.md sections 2-3; choices marked (ours) there are ours here too).
    integer("encoder.dim", [](Config& c) -> int64_t& { return c.encoder.dim; }, 32, between_int(2, 4096), "width h of every set block and of z"),
    integer("encoder.heads", [](Config& c) -> int64_t& { return c.encoder.heads; }, 4, between_int(1, 256), "attention heads (divides dim)"),
    integer("encoder.ff_mult", [](Config& c) -> int64_t& { return c.encoder.ff_mult; }, 2, between_int(1, 64), "feed-forward width in multiples of dim"),
    integer("encoder.chunk_size", [](Config& c) -> int64_t& { return c.encoder.chunk_size; }, 32, between_int(1, 1 << 16), "pad-chunk size c (elements per chunk)"),
    integer("encoder.chunk_budget", [](Config& c) -> int64_t& { return c.encoder.chunk_budget; }, 16384, between_int(0, int64_t{1} << 32), "most chunks whose activations a training step holds at once (stage 1 of the reference kernels in slices, stage 2 in groups of tensors, recomputed in backward; 0 = no bound); bounds memory, not results"),
    choice("encoder.value_embedding", [](Config& c) -> std::string& { return c.encoder.value_embedding; }, "fourier", {"fourier", "linear"}, "how a weight value becomes a vector"),
    integer("encoder.fourier_bands", [](Config& c) -> int64_t& { return c.encoder.fourier_bands; }, 4, between_int(0, 64), "frequencies of the fourier value embedding"),
    boolean("encoder.pre_ln", [](Config& c) -> bool& { return c.encoder.pre_ln; }, true, "pre-LN set blocks (false: post-LN, as the Set Transformer paper)"),
    boolean("encoder.pma_seed_residual", [](Config& c) -> bool& { return c.encoder.pma_seed_residual; }, true, "PMA output = seed + attention"),
    boolean("encoder.level_encoding", [](Config& c) -> bool& { return c.encoder.level_encoding; }, true, "ablation: depth-level positional encoding"),
    number("encoder.position_scale", [](Config& c) -> double& { return c.encoder.position_scale; }, 0.3, at_least_number(0.0), "size of the sinusoidal type and level encodings, and of the role embedding at initialisation (1: unscaled, the behaviour before this setting; their offset, the same for every network, then swamps the weights' signal and SNE can sit on the mean-predictor plateau for the whole demo)"),
    boolean("encoder.type_encoding", [](Config& c) -> bool& { return c.encoder.type_encoding; }, true, "ablation: layer-type positional encoding"),
    boolean("encoder.element_positions", [](Config& c) -> bool& { return c.encoder.element_positions; }, false, "give each weight its place in its tensor (output index, input index, kernel offset) as a learned sinusoidal encoding, so that a chunk knows which input each weight reads; the chunk sets are then no longer invariant to reorderings that change the network's function, and the symmetries the zoo declares are left to train.invariance_weight to teach (the over-invariance option; stage 1 then runs on the LibTorch composition, not the fused kernel)"),
    boolean("encoder.role_encoding", [](Config& c) -> bool& { return c.encoder.role_encoding; }, true, "weight/bias role encoding before a layer's tensors merge"),
    boolean("encoder.set_functions", [](Config& c) -> bool& { return c.encoder.set_functions; }, true, "ablation: set-to-set maps (false: identity)"),
    boolean("encoder.attention_kernel", [](Config& c) -> bool& { return c.encoder.attention_kernel; }, true, "with kernels: fused, the attention of the tensor, layer and network stages by the hand-written CPU kernel too (false: the LibTorch composition there; equal within 1e-5)"),
    choice("encoder.kernels", [](Config& c) -> std::string& { return c.encoder.kernels; }, "fused", {"fused", "reference"}, "chunk stage on the CPU: fused (hand-written kernels, pre-LN blocks) or reference (the LibTorch composition; also used on CUDA and for post-LN); equal results"),
    boolean("encoder.hierarchy", [](Config& c) -> bool& { return c.encoder.hierarchy; }, true, "ablation: chunk->tensor->layer->network hierarchy (false: one set of chunks)"),

    // baseline: the baselines' own MLPs (their code z has encoder.dim entries, like SNE's).
    integer("baseline.hidden", [](Config& c) -> int64_t& { return c.baseline.hidden; }, 256, between_int(1, 1 << 16), "width of the baselines' hidden layers"),
    integer("baseline.layers", [](Config& c) -> int64_t& { return c.baseline.layers; }, 2, between_int(1, 64), "hidden layers of each baseline MLP"),

    // predictor: the MLP on z.
    integer("predictor.hidden", [](Config& c) -> int64_t& { return c.predictor.hidden; }, 512, between_int(1, 1 << 16), "width of the predictor's hidden layers"),
    integer("predictor.layers", [](Config& c) -> int64_t& { return c.predictor.layers; }, 2, between_int(0, 64), "hidden layers of the predictor"),

    // task: what is predicted.
    string("task.property", [](Config& c) -> std::string& { return c.task.property; }, "frequency", non_empty(), "zoo property to predict"),
    choice("task.loss", [](Config& c) -> std::string& { return c.task.loss; }, "mse", {"mse", "bce"}, "mse on standardised targets, or bce on a sigmoid for targets in [0, 1]"),
    string("task.train_split", [](Config& c) -> std::string& { return c.task.train_split; }, "train", non_empty(), "split to train on"),
    string("task.validation_split", [](Config& c) -> std::string& { return c.task.validation_split; }, "validation", non_empty(), "split for model selection"),
    string("task.test_split", [](Config& c) -> std::string& { return c.task.test_split; }, "test", non_empty(), "split reported by eval"),
    number("task.train_fraction", [](Config& c) -> double& { return c.task.train_fraction; }, 1.0, fraction(), "train on a seeded random subset of this fraction of the training split"),

    // train: optimisation.
    integer("train.epochs", [](Config& c) -> int64_t& { return c.train.epochs; }, 50, at_least(1), "passes over the training split"),
    number("train.lr", [](Config& c) -> double& { return c.train.lr; }, 3e-4, positive_at_most(10.0), "AdamW learning rate after warm-up"),
    number("train.weight_decay", [](Config& c) -> double& { return c.train.weight_decay; }, 0.0, at_least_number(0.0), "AdamW weight decay"),
    number("train.grad_clip", [](Config& c) -> double& { return c.train.grad_clip; }, 1.0, at_least_number(0.0), "gradient-norm clip (0 = off)"),
    integer("train.warmup_steps", [](Config& c) -> int64_t& { return c.train.warmup_steps; }, 50, at_least(0), "linear learning-rate warm-up"),
    choice("train.lr_schedule", [](Config& c) -> std::string& { return c.train.lr_schedule; }, "cosine", {"cosine", "constant"}, "after warm-up: cosine decay over all epochs to lr * final_lr_fraction, or constant"),
    number("train.final_lr_fraction", [](Config& c) -> double& { return c.train.final_lr_fraction; }, 0.01, between(0.0, 1.0), "cosine schedule: the last step's learning rate as a fraction of train.lr"),
    number("train.invariance_weight", [](Config& c) -> double& { return c.train.invariance_weight; }, 1.0, at_least_number(0.0), "v: weight of the logit-invariance term (0 = ablation)"),
    integer("train.invariance_samples", [](Config& c) -> int64_t& { return c.train.invariance_samples; }, 1, between_int(1, 64), "symmetry transforms sampled per network per step"),
    integer("train.early_stopping_patience", [](Config& c) -> int64_t& { return c.train.early_stopping_patience; }, 0, at_least(0), "epochs without validation improvement before stopping (0 = never)"),
    choice("train.value_normalization", [](Config& c) -> std::string& { return c.train.value_normalization; }, "tensor", {"tensor", "none"}, "standardise weights per tensor with training-zoo statistics"),
    integer("train.data_shards", [](Config& c) -> int64_t& { return c.train.data_shards; }, 0, at_least(0), "data-parallel shards of every batch, each with its own shuffled stream; a run gives the same result on any number of processes that divides it (0 = the number of processes when the run starts)"),

    // transfer: the zoos of `sne transfer` (cross-dataset and cross-architecture tables).
    string("transfer.train", [](Config& c) -> std::string& { return c.transfer.train; }, "", unchecked<std::string>(), "sne transfer: comma-separated zoo files to train on, one model each"),
    string("transfer.eval", [](Config& c) -> std::string& { return c.transfer.eval; }, "", unchecked<std::string>(), "sne transfer: comma-separated zoo files to evaluate on (empty = the train zoos)"),
    string("transfer.models", [](Config& c) -> std::string& { return c.transfer.models; }, "sne", non_empty(), "sne transfer: comma-separated models (sne, mlp, deepsets, statnn)"),
  };
  // clang-format on
  return t;
}

std::vector<std::string> cross_problems(const Config& c) {
  std::vector<std::string> p;
  if (c.encoder.dim % c.encoder.heads != 0)
    p.push_back("encoder.heads (" + std::to_string(c.encoder.heads) + ") must divide encoder.dim (" +
                std::to_string(c.encoder.dim) + "): each attention head takes dim / heads of every vector");
  return p;
}

}  // namespace sne::config::detail
