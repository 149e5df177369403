#pragma once
// Comparison studies: variants of one task trained and tested on the same zoo and splits, over fractions of the
// training split (the data-efficiency curve) and seeds. `sne compare` makes one variant per model; `sne ablate`
// one per overlay config (configs/ablations/*.yaml). Layout:
//   OUT/VARIANT[_fFRACTION][/seed-S]/   a run directory (run_dir.h), tested as evaluations/test.json
//   OUT/compare.json | ablation.json     the typed result (CompareResult::to_json)
//   OUT/compare.md | ablation.md         its tables
#include <string>
#include <vector>

#include "study/evaluation.h"
#include "study/study.h"

namespace sne::study {

struct Variant {
  std::string name;
  std::vector<std::string> overlays;   ///< config files applied over the base config
  std::vector<std::string> overrides;  ///< KEY=VALUE, e.g. "model=statnn"
};

struct CompareSpec {
  std::string kind = "compare";  ///< "compare" or "ablation": the result's file names and tables
  ConfigFactory config;
  std::vector<Variant> variants;
  std::vector<double> fractions{1.0};
  std::vector<int64_t> seeds;  ///< empty: the config's run.seed, and run directories without a seed folder
  std::string out;
  int64_t invariance_samples = 5;
  /// Variants to train; the others are reported when a previous call finished them, else left out (used to
  /// run parts of an ablation in parallel processes). Empty: all.
  std::vector<std::string> only;
};

/// One trained and tested run of a study.
struct CompareRow {
  std::string variant;
  double fraction = 1;
  int64_t seed = 0;
  RunOutcome run;
  std::string run_rel;  ///< run.dir relative to the study folder (compare.json's "run"), "" in older files
  Evaluation test;      ///< not applicable() when the run has no best checkpoint (its error says so)
};

struct CompareResult {
  std::string kind, zoo, property, train_split, test_split, loss;
  std::vector<std::string> variants;
  std::vector<double> fractions;
  std::vector<int64_t> seeds;
  bool seeded = false;  ///< the study was run with explicit seeds
  std::vector<CompareRow> rows;

  /// The rows of one variant at one fraction, one per seed.
  std::vector<const CompareRow*> cell(const std::string& variant, double fraction) const;
  Json to_json() const;
  /// DataError naming `what` when `j` is not a study result this sne wrote.
  static CompareResult from_json(const Json& j, const std::string& what);
  /// The tables of compare.md / ablation.md (mean ± std over seeds where there are several).
  std::string markdown() const;
};

/// The run directory of one row.
std::string compare_run_dir(const CompareSpec& spec, const std::string& variant, double fraction, int64_t seed);

/// Trains (or resumes, or reuses) and tests every variant × fraction × seed, then writes the result files.
CompareResult run_compare(const CompareSpec& spec, const Context& ctx, const Hooks& hooks);

/// The variants of an ablation: one per *.yaml in `dir` (sorted, the usual rows first).
std::vector<Variant> ablation_variants(const std::string& dir);

}  // namespace sne::study
