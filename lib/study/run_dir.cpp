#include "study/run_dir.h"

#include <cmath>
#include <fstream>

#include "core/error.h"
#include "core/files.h"
#include "core/strings.h"
#include "train/checkpoint.h"

namespace sne::study {
namespace fs = std::filesystem;

bool RunDir::exists() const {
  std::error_code ec;
  return fs::is_regular_file(config_file(), ec) &&
         (fs::is_regular_file(metrics_file(), ec) || fs::is_directory(root_ / "checkpoints", ec));
}

Json RunDir::last_state() const { return train::read_checkpoint(last().string()).state; }

bool training_finished(const Json& state, const config::Config& cfg) {
  const Json* epoch = state.find("epoch");
  if (!epoch || !epoch->is_number()) return false;
  if (epoch->as_int() >= cfg.train.epochs) return true;
  const Json* stale = state.find("stale_epochs");
  return cfg.train.early_stopping_patience > 0 && stale && stale->is_number() &&
         stale->as_int() >= cfg.train.early_stopping_patience;
}

RunStage RunDir::stage(const config::Config& cfg) const {
  std::error_code ec;
  if (!fs::exists(last() / "state.json", ec)) return RunStage::fresh;
  return training_finished(last_state(), cfg) ? RunStage::finished : RunStage::started;
}

std::vector<EpochRecord> RunDir::epochs() const {
  const std::string path = metrics_file().string();
  std::ifstream f(path);
  if (!f) throw DataError(path + ": cannot read the run's metrics log (is this a run directory?)");
  std::vector<EpochRecord> out;
  int line_no = 0;
  const auto number = [](const Json& j, const char* key) {
    const Json* v = j.find(key);
    return v && v->is_number() ? v->as_number() : NAN;
  };
  for (std::string line; std::getline(f, line);) {
    ++line_no;
    if (trim(line).empty()) continue;
    const std::string where = path + " line " + std::to_string(line_no);
    Json j;
    try {
      j = Json::parse(line);
    } catch (const std::exception& e) {
      throw DataError(where + ": not a JSON record (" + e.what() + "); the file is truncated or damaged");
    }
    const Json* v = j.find("validation");
    const Json* epoch = j.find("epoch");
    if (!j.is_object() || !epoch || !epoch->is_number() || !v || !v->is_object())
      throw DataError(where + ": expected an epoch record with 'epoch' and 'validation'");
    EpochRecord r;
    r.epoch = static_cast<int64_t>(epoch->as_number());
    r.step = static_cast<int64_t>(number(j, "step"));
    r.train_loss = number(j, "train_loss");
    r.train_invariance = number(j, "train_invariance");
    r.seconds = number(j, "seconds");
    r.lr = number(j, "lr");
    r.step_seconds = number(j, "step_seconds");
    r.networks_trained = number(j, "networks_trained");
    r.validation_mse = number(*v, "mse");
    r.validation_tau = number(*v, "kendall_tau");
    r.validation_r2 = number(*v, "r2");
    const Json* best = j.find("best");
    r.best = best && best->is_bool() && best->as_bool();
    // A run killed after logging an epoch but before checkpointing it trains that epoch again on resume: the
    // later record supersedes the earlier ones from that epoch on.
    while (!out.empty() && out.back().epoch >= r.epoch) out.pop_back();
    out.push_back(r);
  }
  return out;
}

std::optional<Json> RunDir::cached_evaluation(const std::string& name, const Json& source) const {
  const fs::path p = evaluation_file(name);
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return std::nullopt;
  try {
    Json j = Json::parse(read_text(p.string()));
    const Json* s = j.find("source");
    if (s && *s == source) return j;
  } catch (const std::exception&) {  // a damaged cache is computed again
  }
  return std::nullopt;
}

void RunDir::store_evaluation(const std::string& name, const Json& evaluation) const {
  std::error_code ec;
  fs::create_directories(root_ / "evaluations", ec);
  if (ec) throw IoError((root_ / "evaluations").string() + ": cannot create (" + ec.message() + ")");
  write_text_atomic(evaluation_file(name).string(), evaluation.dump(2) + "\n");
}

std::string safe_name(const std::string& text) {
  std::string s = text;
  for (char& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) c = '_';
  return s.empty() ? "_" : s;
}

}  // namespace sne::study
