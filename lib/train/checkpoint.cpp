#include "train/checkpoint.h"

#include <torch/serialize.h>

#include <filesystem>
#include <cerrno>
#include <cstring>
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
  f.close();  // the last buffer reaches the disk here: a full disk fails now, not later unseen
  if (!f) throw IoError(p.string() + ": cannot write (" + std::strerror(errno) + "; is the disk full?)");
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
    // The tensors are serialised in memory and written by us: LibTorch's file writer aborts the process when
    // the disk fills up, where a checked write can say so and leave the previous checkpoint as it was.
    const auto archive = [](const auto& fill) {
      torch::serialize::OutputArchive a;
      fill(a);
      std::ostringstream bytes;
      a.save_to(bytes);
      return bytes.str();
    };
    std::string model_bytes, optimizer_bytes;
    try {
      model_bytes = archive([&](torch::serialize::OutputArchive& a) { model.save(a); });
      if (optimizer) optimizer_bytes = archive([&](torch::serialize::OutputArchive& a) { optimizer->save(a); });
    } catch (const c10::Error& e) {
      throw IoError(tmp.string() + ": cannot serialise tensors (" + e.what_without_backtrace() + ")");
    }
    write_text(tmp / "model.pt", model_bytes);
    if (optimizer) write_text(tmp / "optimizer.pt", optimizer_bytes);
    Json manifest = state;
    manifest.set("checkpoint_format", static_cast<long long>(kCheckpointFormat));
    write_text(tmp / "state.json", manifest.dump(2) + "\n");
    write_text(tmp / "config.yaml", config_yaml);
  } catch (const IoError&) {
    remove_tree(tmp.string(), ec);  // no half-written checkpoint stays behind; the previous one is untouched
    throw;
  }
  // Swap in: the previous checkpoint stays intact until the new one is complete under its final name.
  remove_tree(old.string(), ec);
  if (fs::exists(final_dir, ec)) {
    fs::rename(final_dir, old, ec);
    if (ec) throw IoError(final_dir.string() + ": cannot move the previous checkpoint aside (" + ec.message() + ")");
  }
  fs::rename(tmp, final_dir, ec);
  if (ec) {
    std::error_code back;
    fs::rename(old, final_dir, back);
    throw IoError(final_dir.string() + ": cannot move the new checkpoint into place (" + ec.message() + ")");
  }
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
