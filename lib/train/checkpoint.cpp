#include "train/checkpoint.h"

#include <torch/serialize.h>

#include <filesystem>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

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
std::string crc32_hex(const char* data, std::size_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n > 0) {  // zlib takes uInt lengths
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data), chunk);
    data += chunk;
    n -= chunk;
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08lx", static_cast<unsigned long>(crc));
  return buf;
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
    Json with_format = state;
    with_format.set("checkpoint_format", static_cast<long long>(kCheckpointFormat));
    std::vector<std::pair<std::string, std::string>> files{
        {"model.pt", std::move(model_bytes)}, {"state.json", with_format.dump(2) + "\n"}, {"config.yaml", config_yaml}};
    if (optimizer) files.emplace_back("optimizer.pt", std::move(optimizer_bytes));
    Json manifest = Json::object();
    for (const auto& [name, bytes] : files) {
      write_text(tmp / name, bytes);
      Json entry = Json::object();
      entry.set("bytes", static_cast<long long>(bytes.size()));
      entry.set("crc32", crc32_hex(bytes.data(), bytes.size()));
      manifest.set(name, entry);
    }
    write_text(tmp / "manifest.json", manifest.dump(2) + "\n");  // last: a checkpoint without it is incomplete
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

namespace {

// CheckpointError naming the file when one of the checkpoint files differs from what manifest.json records.
void verify_manifest(const std::string& dir) {
  const fs::path m = fs::path(dir) / "manifest.json";
  Json manifest;
  try {
    manifest = Json::parse(read_text(m));
  } catch (const CheckpointError&) {
    throw CheckpointError(m.string() + ": missing (the checkpoint is incomplete)");
  } catch (const std::exception& e) {
    throw CheckpointError(m.string() + ": corrupt (" + e.what() + ")");
  }
  if (!manifest.is_object()) throw CheckpointError(m.string() + ": corrupt (not an object)");
  for (const char* name : {"model.pt", "state.json", "config.yaml"})
    if (!manifest.find(name)) throw CheckpointError(m.string() + ": no member '" + name + "'");
  for (const auto& [name, entry] : manifest.as_object()) {
    const fs::path p = fs::path(dir) / name;
    const Json* bytes = entry.is_object() ? entry.find("bytes") : nullptr;
    const Json* crc = entry.is_object() ? entry.find("crc32") : nullptr;
    if (!bytes || !bytes->is_number() || !crc || !crc->is_string() || name.find('/') != std::string::npos)
      throw CheckpointError(m.string() + ": member '" + name + "' must be {\"bytes\": N, \"crc32\": \"hex\"}");
    std::error_code ec;
    const auto size = fs::file_size(p, ec);
    if (ec) throw CheckpointError(p.string() + ": missing (listed in manifest.json)");
    if (static_cast<double>(size) != bytes->as_number())
      throw CheckpointError(p.string() + ": corrupt (" + std::to_string(size) + " bytes, manifest.json says " +
                            bytes->dump() + ")");
    const std::string data = read_text(p);
    const std::string sum = crc32_hex(data.data(), data.size());
    if (sum != crc->as_string())
      throw CheckpointError(p.string() + ": corrupt (CRC-32 " + sum + ", manifest.json says " + crc->as_string() +
                            "); the file was damaged after it was written");
  }
}

}  // namespace

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
  if (fmt->as_number() != 1 && fmt->as_number() != kCheckpointFormat)
    throw CheckpointError(dir + ": checkpoint format " + fmt->dump() + ", this sne reads 1 and " +
                          std::to_string(kCheckpointFormat));
  if (fmt->as_number() == kCheckpointFormat) verify_manifest(dir);  // format 1 had no manifest
  c.config_yaml = read_text(fs::path(dir) / "config.yaml");
  return c;
}

namespace {
char g_reading[1024] = "";  // checkpoint_file_being_read()

struct Reading {  // marks `path` as being read by LibTorch for the lifetime of this object
  explicit Reading(const std::string& path) {
    const std::size_t n = std::min(path.size(), sizeof g_reading - 1);
    std::memcpy(g_reading, path.data(), n);
    g_reading[n] = '\0';
  }
  ~Reading() { g_reading[0] = '\0'; }
};
}  // namespace

const char* checkpoint_file_being_read() { return g_reading; }

void load_weights(const std::string& dir, torch::nn::Module& model, torch::optim::Optimizer* optimizer) {
  const auto load = [&](const std::string& file, const auto& into) {
    const fs::path p = fs::path(dir) / file;
    if (!fs::exists(p)) throw CheckpointError(p.string() + ": missing");
    try {
      torch::serialize::InputArchive a;
      {
        const Reading reading(p.string());
        a.load_from(p.string());
      }
      into(a);
    } catch (const c10::Error& e) {
      throw CheckpointError(p.string() + ": corrupt or made for other model settings (" +
                            e.what_without_backtrace() + ")");
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {  // TorchScript's reader of a damaged archive throws std::runtime_error
      std::string what = e.what();
      if (what.size() > 300) what = what.substr(0, 300) + "...";
      throw CheckpointError(p.string() + ": corrupt (" + what + ")");
    }
  };
  load("model.pt", [&](torch::serialize::InputArchive& a) { model.load(a); });
  if (optimizer) load("optimizer.pt", [&](torch::serialize::InputArchive& a) { optimizer->load(a); });
}

}  // namespace sne::train
