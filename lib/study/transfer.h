#pragma once
// Transfer studies: one model per training zoo (and seed), each evaluated on a split of every evaluation zoo;
// the Kendall tau matrix with its averages. Zoos of one architecture on several datasets give the cross-dataset
// table (paper Tables 5, 8); zoos of different architectures the cross-architecture tables (Tables 2-4, 9).
// Layout:
//   OUT/MODEL/TRAIN_ZOO[/seed-S]/   a run directory; each cell is evaluations/EVAL_ZOO-SPLIT.json
//   OUT/transfer.json, OUT/transfer.md
#include <string>
#include <vector>

#include "study/evaluation.h"
#include "study/study.h"

namespace sne::study {

struct TransferSpec {
  ConfigFactory config;
  std::vector<std::string> models, train_zoos, eval_zoos;  ///< eval_zoos empty: the train zoos
  std::string split;                                       ///< "" = task.test_split
  std::vector<int64_t> seeds;                              ///< empty: run.seed, no seed folders
  std::string out;
  int64_t invariance_samples = 0;
};

struct TransferCell {
  int64_t seed = 0;
  Evaluation eval;  ///< `error` set when the model cannot read the zoo
};

/// One (model, training zoo, evaluation zoo) entry: a cell per seed.
struct TransferEntry {
  std::size_t train = 0, eval = 0;  ///< into TransferResult's zoo lists
  bool same_zoo = false;            ///< the training zoo itself (the diagonal)
  bool unseen_architecture = false; ///< the evaluation zoo has an architecture the training zoo has not
  std::vector<TransferCell> seeds;
  Spread tau() const;
  bool applicable() const;
};

struct TransferTable {
  std::string model;
  std::vector<TransferEntry> entries;  ///< row-major: train zoo × eval zoo
  const TransferEntry& at(std::size_t train, std::size_t eval, std::size_t n_eval) const {
    return entries[train * n_eval + eval];
  }
};

struct TransferResult {
  std::string property, split;
  std::vector<std::string> train_names, train_paths, eval_names, eval_paths;
  std::vector<int64_t> seeds;
  bool seeded = false;
  std::vector<TransferTable> tables;

  /// Mean of the cells' mean tau: of a row (train zoo), or of the table; `other_zoos_only` leaves out the
  /// diagonal. NaN when no cell applies.
  double row_average(const TransferTable& t, std::size_t train, bool other_zoos_only) const;
  double table_average(const TransferTable& t, bool other_zoos_only) const;
  Json to_json() const;
  static TransferResult from_json(const Json& j, const std::string& what);
  std::string markdown() const;
};

/// A short unique name per zoo for directories and table headers: the file stem, made unique with a number.
std::vector<std::string> zoo_names(const std::vector<std::string>& paths);

/// Trains (or resumes, or reuses) every model on every training zoo and seed, evaluates every cell (reusing
/// finished ones), writes transfer.json and transfer.md.
TransferResult run_transfer(const TransferSpec& spec, const Context& ctx, const Hooks& hooks);

}  // namespace sne::study
