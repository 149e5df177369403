// The checkpoint reader (lib/train/checkpoint, load_model, the resume state): what `sne eval`, `sne encode` and
// `--resume` read from a checkpoint directory. The input packs the directory's members, each as a 4-byte
// little-endian length and that many bytes, in the order of kMembers; a member the input runs out before is
// absent. manifest.json is written to match what was packed, so that the input reaches the parsers behind the
// integrity check (the check itself has its unit tests). A bad checkpoint is a sne::Error naming the file.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "runtime/context.h"
#include "core/error.h"
#include "core/json.h"
#include "fuzz_target.h"
#include "train/checkpoint.h"
#include "train/state.h"
#include "train/trainer.h"

namespace {

namespace fs = std::filesystem;

const char* const kMembers[] = {"state.json", "config.yaml", "model.pt", "optimizer.pt"};

std::string crc32_hex(const std::string& s) {  // the manifest's checksum: CRC-32 (IEEE), 8 hex digits
  uint32_t c = 0xffffffffu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  char out[9];
  std::snprintf(out, sizeof out, "%08x", c ^ 0xffffffffu);
  return out;
}

fs::path checkpoint_dir() {
  static const fs::path dir = [] {
    const fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    return base / ("sne-fuzz-checkpoint-" + std::to_string(::getpid()));
  }();
  return dir;
}

}  // namespace

SNE_FUZZ_TARGET(data, size) {
  const fs::path dir = checkpoint_dir();
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  sne::Json manifest = sne::Json::object();
  std::size_t at = 0;
  for (const char* name : kMembers) {
    if (size - at < 4) break;
    uint32_t n = 0;
    for (int k = 0; k < 4; ++k) n |= static_cast<uint32_t>(data[at + k]) << (8 * k);
    at += 4;
    n = static_cast<uint32_t>(std::min<std::size_t>(n, size - at));
    const std::string bytes(reinterpret_cast<const char*>(data) + at, n);
    at += n;
    std::ofstream(dir / name, std::ios::binary) << bytes;
    sne::Json entry = sne::Json::object();
    entry.set("bytes", sne::Json(static_cast<int64_t>(n)));
    entry.set("crc32", sne::Json(crc32_hex(bytes)));
    manifest.set(name, entry);
  }
  std::ofstream(dir / "manifest.json") << manifest.dump();
  try {
    // eval and encode: the model, its settings and normalisers.
    sne::train::LoadedModel m = sne::train::load_model(dir.string(), sne::Context());
    // --resume: the training state, range-checked.
    (void)sne::train::TrainingState::from_json(m.state, (dir / "state.json").string());
  } catch (const sne::Error&) {
  }
  return 0;
}
