#include "train/checkpoint.h"

#include <torch/serialize.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/files.h"

namespace sne::train {
namespace fs = std::filesystem;

namespace {
void write_text(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
  if (!f.flush()) throw IoError(p.string() + ": cannot write");
}
std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw CheckpointError(p.string() + ": missing or unreadable (is this a checkpoint directory?)");
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
}  // namespace

void save_checkpoint(const std::string& dir, torch::nn::Module& model, torch::optim::Optimizer* optimizer,
                     const Json& state, const std::string& config_yaml) {
  const fs::path final_dir(dir);
  const fs::path tmp = final_dir.string() + ".tmp";
  const fs::path old = final_dir.string() + ".old";
  std::error_code ec;
  remove_tree(tmp.string(), ec);
  fs::create_directories(tmp, ec);
  if (ec) throw IoError(tmp.string() + ": cannot create checkpoint directory (" + ec.message() + ")");
  try {
    torch::serialize::OutputArchive m;
    model.save(m);
    m.save_to((tmp / "model.pt").string());
    if (optimizer) {
      torch::serialize::OutputArchive o;
      optimizer->save(o);
      o.save_to((tmp / "optimizer.pt").string());
    }
  } catch (const c10::Error& e) {
    throw IoError(tmp.string() + ": cannot write tensors (" + e.what_without_backtrace() + ")");
  }
  Json manifest = state;
  manifest.set("checkpoint_format", static_cast<long long>(kCheckpointFormat));
  write_text(tmp / "state.json", manifest.dump(2) + "\n");
  write_text(tmp / "config.yaml", config_yaml);
  // Swap in: the previous checkpoint stays intact until the new one is complete under its final name.
  remove_tree(old.string(), ec);
  if (fs::exists(final_dir)) fs::rename(final_dir, old);
  fs::rename(tmp, final_dir);
  remove_tree(old.string(), ec);
}

LoadedCheckpoint read_checkpoint(const std::string& dir) {
  if (!fs::is_directory(dir)) throw CheckpointError(dir + ": not a checkpoint directory");
  LoadedCheckpoint c;
  const std::string text = read_text(fs::path(dir) / "state.json");
  try {
    c.state = Json::parse(text);
  } catch (const std::exception& e) {
    throw CheckpointError(dir + "/state.json: corrupt (" + e.what() + ")");
  }
  const Json* fmt = c.state.find("checkpoint_format");
  if (!fmt || !fmt->is_number()) throw CheckpointError(dir + "/state.json: no checkpoint_format");
  if (fmt->as_int() != kCheckpointFormat)
    throw CheckpointError(dir + ": checkpoint format " + std::to_string(fmt->as_int()) + ", this sne reads " +
                          std::to_string(kCheckpointFormat));
  c.config_yaml = read_text(fs::path(dir) / "config.yaml");
  return c;
}

void load_weights(const std::string& dir, torch::nn::Module& model, torch::optim::Optimizer* optimizer) {
  const auto load = [&](const std::string& file, const auto& into) {
    const fs::path p = fs::path(dir) / file;
    if (!fs::exists(p)) throw CheckpointError(p.string() + ": missing");
    try {
      torch::serialize::InputArchive a;
      a.load_from(p.string());
      into(a);
    } catch (const c10::Error& e) {
      throw CheckpointError(p.string() + ": corrupt or made for other model settings (" +
                            e.what_without_backtrace() + ")");
    }
  };
  load("model.pt", [&](torch::serialize::InputArchive& a) { model.load(a); });
  if (optimizer) load("optimizer.pt", [&](torch::serialize::InputArchive& a) { optimizer->load(a); });
}

}  // namespace sne::train
