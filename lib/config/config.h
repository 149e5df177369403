#pragma once
// The typed experiment configuration. Every setting is declared once (lib/config/settings.cpp) with its
// key, type, default, check and help; YAML binding, `--set` overrides, `sne config show` and the help text
// are all driven by those declarations.
//
// Precedence: defaults < config files (left to right) < overrides (`--set key=value` and the common CLI
// flags, in command-line order).
#include <cstdint>
#include <string>
#include <vector>

namespace sne::config {

struct RunSettings {
  int64_t threads;        ///< intra-op threads; 0 = all cores
  int64_t seed;           ///< master seed (>= 0)
  std::string device;     ///< "cpu" | "cuda" | "auto"
  std::string log_level;  ///< "trace" | "debug" | "info" | "warn" | "error" | "off"
  std::string dir;        ///< run directory of `sne run` (config, metrics, checkpoints)
  bool train;             ///< `sne run`: train (or resume) and evaluate after preparing the zoo
  bool report;            ///< `sne run`: then draw the run's report in RUN/report
};

struct ReaderSettings {
  int64_t batch_size;       ///< networks per batch (>= 1)
  double memory_budget_mb;  ///< bound on the reader's buffered weights, MiB (> 0)
  bool shuffle;             ///< windowed shuffle with the run seed
  bool prefetch;            ///< read on a background I/O thread
};

struct ZooSettings {
  std::string path;         ///< the zoo file (HDF5, docs/zoo-format.md)
  std::string generator;    ///< "none" | "sine": what `sne run` does when the file is missing or incomplete
  ReaderSettings reader;
};

/// The sine-wave INR zoo recipe (DWSNets; docs of `sne zoo generate sine`).
struct SineZooSettings {
  int64_t count;             ///< INRs to generate
  int64_t test_count;        ///< test split size (shrunk when count is too small)
  int64_t validation_count;  ///< validation split size
  double freq_min, freq_max; ///< b ~ U(freq_min, freq_max)
  double amplitude;          ///< a in a*sin(b*x)
  int64_t points;            ///< samples of x on [-pi, pi), step 2*pi/points
  int64_t hidden;            ///< SIREN width
  double w0;                 ///< SIREN frequency factor (multiplies weight and bias)
  double output_offset;      ///< added to the last layer's output
  double lr, weight_decay;   ///< Adam (L2-style weight decay, as torch.optim.Adam)
  int64_t max_steps;         ///< optimisation steps at most
  double target_loss;        ///< stop an INR as soon as its loss is <= this
  int64_t batch;             ///< INRs trained at once
  double flush_seconds;      ///< finished INRs are written to the file at least this often (not part of the recipe)
};

/// The CNN / ViT image-classifier zoo recipe (Unterthiner et al. 2020 style; docs of `sne zoo generate cnn`).
struct CnnZooSettings {
  std::string arch;              ///< "arch1" | "arch2" | "vit"
  std::string dataset;           ///< a name of data::dataset_names()
  std::string data_dir;          ///< "" = the dataset's default folder
  bool grayscale;                ///< convert RGB images to one channel first
  int64_t count;                 ///< networks (training runs) to generate
  int64_t epochs;                ///< training epochs of every network
  std::string checkpoint_epochs; ///< comma-separated epochs stored as networks (0 = at initialisation)
  int64_t batch_size;            ///< images per optimisation step
  int64_t parallel;              ///< networks trained at once
  int64_t train_examples;        ///< use the first k training images (0 = all); a reduced recipe
  int64_t test_examples;         ///< test accuracy on the first k test images (0 = all)
  int64_t train_eval_examples;   ///< train accuracy/loss on at most k images of each network's training subset
  double test_fraction, validation_fraction;  ///< of the runs, for the splits
  std::string activations, optimizers, inits, train_fractions;  ///< comma-separated choices sampled uniformly
  double lr_min, lr_max, l2_min, l2_max, dropout_max, init_std_min, init_std_max;
  int64_t vit_patch, vit_dim, vit_depth, vit_heads, vit_mlp_ratio;
};

struct GenerateSettings {
  SineZooSettings sine;
  CnnZooSettings cnn;
};

/// The SNE encoder (lib/encoder/sne_encoder.h) and its ablation switches.
struct EncoderSettings {
  int64_t dim, heads, ff_mult, chunk_size, fourier_bands, chunk_budget;
  bool pre_ln, pma_seed_residual, level_encoding, type_encoding, role_encoding, set_functions, hierarchy;
  double position_scale;        ///< factor on the sinusoidal type and level encodings
  std::string value_embedding;  ///< "fourier" | "linear"
  std::string kernels;          ///< "fused" (hand-written CPU chunk stage) | "reference" (the LibTorch composition)
  bool attention_kernel = true; ///< stages 2-4's attention by the hand-written CPU kernel (with kernels: fused)
  bool element_positions = false;  ///< each weight also gets its output index, input index and kernel offset
};

struct PredictorSettings {
  int64_t hidden, layers;
};

/// The baselines (lib/baselines): width and depth of their MLPs.
struct BaselineSettings {
  int64_t hidden, layers;
};

/// What is predicted and how it is scored.
struct TaskSettings {
  std::string property;        ///< the zoo property to predict
  std::string loss;            ///< "mse" (on standardised targets) | "bce" (sigmoid output, targets in [0, 1])
  std::string train_split, validation_split, test_split;
  double train_fraction;       ///< train on a seeded random subset of this fraction of train_split (data efficiency)
};

struct TrainSettings {
  int64_t epochs;
  double lr, weight_decay, grad_clip;
  int64_t warmup_steps;
  std::string lr_schedule;        ///< after warm-up: "cosine" decay to lr * final_lr_fraction, or "constant"
  double final_lr_fraction;       ///< cosine: the last step's learning rate as a fraction of lr
  double invariance_weight;       ///< v of the logit-invariance term
  int64_t invariance_samples;     ///< sampled symmetry transforms per network per step
  int64_t early_stopping_patience;///< epochs without validation improvement before stopping; 0 = never
  std::string value_normalization;///< "tensor": standardise each tensor by its training-zoo statistics; "none"
  int64_t data_shards;            ///< data-parallel shards of each batch (train/shards.h); 0 = the processes at the start
};

/// `sne transfer`: which zoos to train on and to evaluate on (the command line's --train/--eval/--models win).
struct TransferSettings {
  std::string train;   ///< comma-separated zoo files, one model each
  std::string eval;    ///< comma-separated zoo files ("" = the train zoos)
  std::string models;  ///< comma-separated models
};

struct Config {
  RunSettings run;
  ZooSettings zoo;
  GenerateSettings generate;
  std::string model;           ///< "sne" | "mlp" | "deepsets" | "statnn": what reads the weights
  EncoderSettings encoder;
  BaselineSettings baseline;
  PredictorSettings predictor;
  TaskSettings task;
  TrainSettings train;
  TransferSettings transfer;
};

/// Description of one declared setting (for help output and docs).
struct SettingInfo {
  std::string key;           ///< dotted, e.g. "zoo.reader.batch_size"
  std::string type;          ///< "int", "float", "bool", "string", "choice"
  std::string default_text;  ///< the default rendered as YAML scalar text
  std::string check_text;    ///< e.g. ">= 1", "one of: cpu, cuda, auto", "" when unchecked
  std::string help;
};

/// The values of `model`: "sne" and the baselines.
const std::vector<std::string>& model_names();

/// Every declared setting, in declaration order.
const std::vector<SettingInfo>& settings();

/// The config with every setting at its default.
Config defaults();

/// The embedded default config file (configs/default.yaml, compiled into the binary).
const std::string& embedded_default_yaml();

/// A named YAML text to apply (the file path, or "<embedded default>", is used in error messages).
struct Source {
  std::string name;
  std::string text;
  /// A config an earlier sne wrote (a run directory's or checkpoint's config.yaml, every setting present): a
  /// setting added since whose default differs from what that sne did takes its former value when absent
  /// (the table in resolve.cpp), so an old run resumes and an old checkpoint evaluates exactly as it trained.
  bool saved = false;
};

/// Reads a YAML file into a Source; throws ConfigError("FILE: cannot read ...") when unreadable.
Source read_source(const std::string& path);

/// Resolves defaults < sources (in order) < overrides ("a.b=value", YAML scalar syntax for the value).
/// Throws ConfigError listing every problem at once, one per line, each with its origin
/// ("FILE:LINE: key 'train.lrr' is unknown (did you mean 'train.lr'?)", "--set run.threads=x: expected an integer").
Config resolve(const std::vector<Source>& sources, const std::vector<std::string>& overrides);

/// Setting-by-setting equality (driven by the declarations, so new settings are compared automatically).
bool operator==(const Config& a, const Config& b);

/// A memory budget in MiB (zoo.reader.memory_budget_mb) as bytes, at least 1 and at most 2^50: any positive
/// number a config accepts is a budget the reader can honour.
int64_t budget_bytes(double mb);
inline bool operator!=(const Config& a, const Config& b) { return !(a == b); }

/// The resolved config as YAML text, nested by section, every setting present (what `sne config show` prints
/// and what a run directory stores); resolve({{"x", to_yaml(c)}}, {}) == c.
std::string to_yaml(const Config& c);

}  // namespace sne::config
