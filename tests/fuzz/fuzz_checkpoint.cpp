// The checkpoint reader (lib/train/checkpoint, load_model, the resume state): what `sne eval`, `sne encode` and
// `--resume` read from a checkpoint directory. The input packs the directory's members, each as a 4-byte
// little-endian length and that many bytes, in the order of kMembers; a member the input runs out before is
// absent. manifest.json is written to match what was packed, so that the input reaches the parsers behind the
// integrity check (the check itself has its unit tests). A bad checkpoint is a sne::Error naming the file.
// LibTorch 1.13's TorchScript reader can crash on a damaged archive (seen: unbounded recursion in
// ScriptTypeParser); the sne binary names the file and exits 4 (apps/sne/signals.cpp), and here such a crash,
// in a child process (--fork), is counted as the library's.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <csignal>

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

void on_crash(int) {
  if (sne::train::checkpoint_file_being_read()[0]) _exit(86);  // inside LibTorch's reader: replay_main.cpp's kLibraryCrash
}

}  // namespace

extern "C" void sne_fuzz_in_child() {
  static char stack[1 << 16];  // the crash seen is a stack overflow
  stack_t ss{};
  ss.ss_sp = stack;
  ss.ss_size = sizeof stack;
  sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_crash;
  sa.sa_flags = SA_RESETHAND | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) sigaction(sig, &sa, nullptr);
}

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
