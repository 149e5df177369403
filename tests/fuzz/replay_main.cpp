// The short, deterministic fuzz pass of ctest: runs a target on every file of a seed corpus and on N mutations
// of each, drawn from a seeded generator, so that a run is the same on every machine and a failure names the
// seed file and mutation that reproduce it. (The long, coverage-guided runs use libFuzzer: scripts/fuzz.sh.)
//
//   fuzz_NAME_replay CORPUS_DIR [--mutations N] [--seed S] [--write-failing DIR] [--fork]
//
// --fork runs each input in a child process. A target that reads through a library which may crash on hostile
// input (HDF5 1.10) defines sne_fuzz_in_child() to install a guard that exits with kLibraryCrash when the crash
// is inside that library: such inputs are counted and reported, not failed (the sne binary turns them into a
// clear error, exit 3). A child still running after kChildSeconds gets SIGALRM: inside that library it is a
// library hang (sne_fuzz_on_alarm exits kLibraryHang), counted likewise. Any other crash or hang, inside sne,
// fails the pass.
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" void sne_fuzz_in_child() __attribute__((weak));
constexpr int kLibraryCrash = 86;
constexpr int kLibraryHang = 87;
constexpr unsigned kChildSeconds = 5;   // per input in --fork mode: longer is a hang

extern "C" void sne_fuzz_on_alarm(int) __attribute__((weak));

namespace {

struct Rng {
  uint64_t s;
  uint64_t next() {  // splitmix64
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return n ? static_cast<std::size_t>(next() % n) : 0; }
};

// Values that break size and index arithmetic, as little-endian 1/2/4/8-byte integers.
const uint64_t kInteresting[] = {0,          1,           0x7f,        0x80,       0xff,       0x7fff,
                                 0xffff,     0x7fffffff,  0x80000000u, 0xffffffffu, 1000000000, 1ull << 40,
                                 1ull << 62, ~0ull >> 1,  ~0ull};

void mutate(std::vector<uint8_t>& b, Rng& r) {
  const int edits = 1 + static_cast<int>(r.below(4));
  for (int e = 0; e < edits; ++e) {
    switch (r.below(b.empty() ? 1 : 7)) {
      case 0: {  // insert random bytes
        const std::size_t at = r.below(b.size() + 1), n = 1 + r.below(16);
        std::vector<uint8_t> ins(n);
        for (auto& x : ins) x = static_cast<uint8_t>(r.next());
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), ins.begin(), ins.end());
        break;
      }
      case 1:  // flip a bit
        b[r.below(b.size())] ^= static_cast<uint8_t>(1u << r.below(8));
        break;
      case 2:  // a random byte
        b[r.below(b.size())] = static_cast<uint8_t>(r.next());
        break;
      case 3: {  // an interesting integer
        const uint64_t v = kInteresting[r.below(sizeof kInteresting / sizeof kInteresting[0])];
        const std::size_t width = std::size_t{1} << r.below(4), at = r.below(b.size());
        for (std::size_t k = 0; k < width && at + k < b.size(); ++k) b[at + k] = static_cast<uint8_t>(v >> (8 * k));
        break;
      }
      case 4:  // truncate
        b.resize(r.below(b.size()));
        break;
      case 5: {  // delete a range
        const std::size_t at = r.below(b.size()), n = std::min(b.size() - at, 1 + r.below(64));
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + n));
        break;
      }
      default: {  // duplicate a range elsewhere
        const std::size_t from = r.below(b.size()), n = std::min(b.size() - from, 1 + r.below(64));
        const std::vector<uint8_t> piece(b.begin() + static_cast<std::ptrdiff_t>(from),
                                         b.begin() + static_cast<std::ptrdiff_t>(from + n));
        const std::size_t to = r.below(b.size() + 1);
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(to), piece.begin(), piece.end());
      }
    }
  }
}

std::vector<uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [--mutations N] [--seed S] [--write-failing DIR]\n", argv[0]);
    return 2;
  }
  const std::string corpus = argv[1];
  long mutations = 100;
  uint64_t seed = 1;
  std::string keep;
  bool fork_each = false;
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--fork")) fork_each = true;
    else if (i + 1 < argc && !std::strcmp(argv[i], "--mutations")) mutations = std::atol(argv[++i]);
    else if (i + 1 < argc && !std::strcmp(argv[i], "--seed")) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (i + 1 < argc && !std::strcmp(argv[i], "--write-failing")) keep = argv[++i];
  }
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(corpus, ec))
    if (e.is_regular_file()) files.push_back(e.path());
  if (ec || files.empty()) {
    std::fprintf(stderr, "%s: no seed corpus in %s\n", argv[0], corpus.c_str());
    return 2;
  }
  std::sort(files.begin(), files.end());
  const auto t0 = std::chrono::steady_clock::now();
  long runs = 0, library_crashes = 0, library_hangs = 0;
  for (const auto& f : files) {
    const std::vector<uint8_t> original = read_file(f);
    Rng r{seed ^ std::hash<std::string>{}(f.filename().string())};
    for (long m = 0; m <= mutations; ++m) {
      std::vector<uint8_t> input = original;
      if (m > 0) mutate(input, r);
      if (!keep.empty()) {  // written before the run, so that a crash leaves it behind
        std::filesystem::create_directories(keep, ec);
        std::ofstream(std::filesystem::path(keep) / "current", std::ios::binary)
            .write(reinterpret_cast<const char*>(input.data()), static_cast<std::streamsize>(input.size()));
      }
      std::fprintf(stderr, "\r%s mutation %ld   ", f.filename().string().c_str(), m);
      ++runs;
      if (!fork_each) {
        LLVMFuzzerTestOneInput(input.data(), input.size());
        continue;
      }
      std::fflush(stderr);
      const pid_t pid = fork();
      if (pid == 0) {
        if (sne_fuzz_in_child) sne_fuzz_in_child();
        if (sne_fuzz_on_alarm) std::signal(SIGALRM, sne_fuzz_on_alarm);
        alarm(kChildSeconds);
        LLVMFuzzerTestOneInput(input.data(), input.size());
        _exit(0);
      }
      int status = 0;
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
      if (WIFEXITED(status) && WEXITSTATUS(status) == kLibraryCrash) {
        ++library_crashes;
        continue;
      }
      if (WIFEXITED(status) && WEXITSTATUS(status) == kLibraryHang) {
        ++library_hangs;
        continue;
      }
      std::fprintf(stderr, "\n%s: %s mutation %ld: %s %d (a defect of sne; --write-failing DIR keeps the input)\n",
                   argv[0], f.string().c_str(), m, WIFSIGNALED(status) ? "killed by signal" : "exit status",
                   WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
      return 1;
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "\r%s: %ld inputs (%zu seeds x %ld mutations and the seeds) in %.1f s, %.0f/s, no defect",
               argv[0], runs, files.size(), mutations, s, runs / std::max(s, 1e-9));
  if (fork_each)
    std::fprintf(stderr, "; inside a library (HDF5, LibTorch's reader) %ld crashed (named by sne's guard) and %ld hung over %u s",
                 library_crashes, library_hangs, kChildSeconds);
  std::fprintf(stderr, "\n");
  return 0;
}
