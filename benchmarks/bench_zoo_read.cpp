// bench_zoo_read: streaming-read throughput (networks/s, MB/s) and peak RSS of ZooStream on a small and a
// large zoo (the large one many times the stream's memory budget), to show that RSS stays flat as files grow.
// Every write and every read runs in its own fork()ed child; a reader's peak RSS is the child's ru_maxrss
// from wait4(), so neither the writer nor earlier reads pollute it. A forked child keeps part of the parent's
// (small) resident pages, and opening a zoo costs some memory too: the table also shows RSS above a child
// that only opens the file ("open only"), i.e. what streaming itself costs.
// MB = 1e6 bytes of float32 weights; RSS in MiB.
#include <fcntl.h>
#include <hdf5.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "zoo/zoo_file.h"
#include "zoo/zoo_stream.h"
#include "zoo/zoo_writer.h"

using namespace sne;
namespace fs = std::filesystem;

namespace {

struct Options {
  std::string dir = "/tmp/sne-bench";
  int64_t params = 4970, small = 5000, large = 50000, budget_mb = 64, batch = 256, repeat = 3;
  bool keep = false, warm = false;
};

const char* kUsage =
    "usage: bench_zoo_read [--dir DIR] [--params P] [--small N] [--large N] [--budget-mb M] [--batch B]\n"
    "                      [--repeat R] [--keep] [--warm] [--quick]\n"
    "  Writes two zoos (N networks of P float32 params each) under DIR, then reads each one in fresh child\n"
    "  processes and reports throughput and peak RSS. --quick: 2000 / 8000 networks, 16 MiB budget, 1 repeat.\n"
    "  --warm: keep the file in the page cache instead of evicting it (isolates the CPU cost of the library).\n"
    "  Defaults: DIR=/tmp/sne-bench P=4970 (Small CNN Zoo) small=5000 large=50000 M=64 B=256 R=3.\n";

// The Small-CNN-Zoo network: conv 1->16, 16->16, 16->16 (3x3), global average pool, linear 16->10 = 4970
// params, with its channel symmetries. Any other P gets a single linear layer [1, P].
zoo::ArchitectureSpec make_spec(int64_t p) {
  zoo::ArchitectureSpec a;
  if (p != 4970) {
    a.name = "linear_" + std::to_string(p);
    a.layers.push_back({"fc", zoo::LayerKind::linear, 0, {{"fc.weight", "weight", {1, p}}}, Json::object()});
  } else {
    a.name = "small_cnn_zoo";
    for (int l = 0; l < 3; ++l) {
      const std::string n = "conv" + std::to_string(l);
      a.layers.push_back({n, zoo::LayerKind::conv2d, l,
                          {{n + ".weight", "weight", {16, l == 0 ? 1 : 16, 3, 3}}, {n + ".bias", "bias", {16}}},
                          Json::object()});
    }
    a.layers.push_back({"fc", zoo::LayerKind::linear, 3,
                        {{"fc.weight", "weight", {10, 16}}, {"fc.bias", "bias", {10}}}, Json::object()});
    for (int l = 0; l < 3; ++l) {
      const std::string n = "conv" + std::to_string(l), next = l < 2 ? "conv" + std::to_string(l + 1) : "fc";
      a.symmetries.push_back({n + ".channels", "permutation", 16,
                              {{n + ".weight", 0}, {n + ".bias", 0}, {next + ".weight", 1}}});
    }
  }
  a.assign_offsets();
  return a;
}

struct Report {  // what a child sends back through a pipe; status 10 = "zoo already written"
  double seconds = 0, checksum = 0;
  int64_t networks = 0;
  int status = 0;
  char error[240] = {};
};
struct ChildResult { Report r; double peak_rss_mib = 0; bool ok = false; };

// Runs `body` in a fork()ed child; returns its Report with the child's peak RSS.
ChildResult run_child(const std::function<Report()>& body) {
  int fds[2];
  if (pipe(fds) != 0) { perror("pipe"); std::exit(1); }
  std::fflush(stdout);  // or the child would print the parent's buffered output again
  const pid_t pid = fork();
  if (pid < 0) { perror("fork"); std::exit(1); }
  if (pid == 0) {
    close(fds[0]);
    Report r;
    try {
      r = body();
    } catch (const std::exception& e) {
      std::snprintf(r.error, sizeof r.error, "%s", e.what());
      r.status = 1;
    }
    ssize_t w = write(fds[1], &r, sizeof r);  // < PIPE_BUF: one atomic write, read after the child exits
    _exit(w == sizeof r ? r.status : 2);
  }
  close(fds[1]);
  ChildResult c;
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  c.ok = read(fds[0], &c.r, sizeof c.r) == sizeof c.r && WIFEXITED(status);
  close(fds[0]);
  if (c.ok && c.r.error[0]) std::fprintf(stderr, "child failed: %s\n", c.r.error);
  c.peak_rss_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;  // KiB on Linux: the child's own high-water mark
  return c;
}

// Sum of squares of every float ("touch" the data); four independent sums let the compiler vectorise it.
double touch(const float* x, int64_t n) {
  double s[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; ++k) s[k] += static_cast<double>(x[i + k]) * x[i + k];
  for (; i < n; ++i) s[0] += static_cast<double>(x[i]) * x[i];
  return s[0] + s[1] + s[2] + s[3];
}

// Writes `path` with `n` networks of `p` random params unless it already holds exactly that (status 10 = reused).
Report write_zoo(const std::string& path, int64_t n, int64_t p) {
  Report r;
  try {
    auto f = fs::exists(path) ? zoo::ZooFile::open(path) : nullptr;
    r.status = f && f->num_networks() == n && f->architectures().size() == 1 &&
               f->architectures()[0].num_params() == p ? 10 : 0;
  } catch (const std::exception&) {  // unreadable: write it again
  }
  if (r.status == 10) return r;
  const auto t0 = std::chrono::steady_clock::now();
  Json prov = Json::object();
  prov.set("kind", "generator");
  prov.set("name", "bench_zoo_read");
  zoo::WriterOptions wo;
  wo.overwrite = true;
  auto w = zoo::ZooWriter::create(path, prov, wo);
  const int arch = w->add_architecture(make_spec(p));
  std::vector<float> row(static_cast<std::size_t>(p));
  uint64_t s = 0x9e3779b97f4a7c15ULL;
  for (int64_t i = 0; i < n; ++i) {
    for (float& x : row) {  // xorshift64: uniform in [-0.5, 0.5)
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      x = static_cast<float>(s >> 40) / 16777216.0f - 0.5f;
    }
    w->append(arch, row.data(), {{"test_accuracy", static_cast<double>(s >> 11) / 9007199254740992.0}});
  }
  w->close();
  r.networks = n;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

enum class Mode { open_only, raw, seq_prefetch, seq_sync, shuffled };
const char* mode_name(Mode m) {
  static const char* names[] = {"open only (baseline)", "raw read_rows/chunk", "stream seq+prefetch",
                                "stream seq, no prefetch", "stream shuffle+prefetch"};
  return names[static_cast<int>(m)];
}

// One child's work: open the zoo, then (except open_only) read every weight once. Opening is not timed.
Report read_zoo(const std::string& path, Mode mode, const Options& o) {
  Report r;
  auto file = zoo::ZooFile::open(path);
  if (mode == Mode::open_only) return r;
  const auto t0 = std::chrono::steady_clock::now();
  if (mode == Mode::raw) {  // blocks of one HDF5 chunk, one reused buffer: HDF5's cost without ZooStream
    const int64_t p = file->architectures()[0].num_params(), rows = file->rows_per_architecture()[0],
                  chunk = file->chunk_rows()[0];
    std::vector<float> buf(static_cast<std::size_t>(chunk * p));
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
      const int64_t k = std::min(chunk, rows - r0);
      file->read_rows(0, r0, k, buf.data());
      r.checksum += touch(buf.data(), k * p);
      r.networks += k;
    }
  } else {
    zoo::StreamOptions so;
    so.batch_size = o.batch;
    so.memory_budget_bytes = o.budget_mb << 20;
    so.prefetch = mode != Mode::seq_sync;
    so.shuffle = mode == Mode::shuffled;
    so.properties = {"test_accuracy"};
    zoo::ZooStream stream(file, so);
    zoo::NetworkBatch b;
    while (stream.next(b)) {
      r.checksum += touch(b.params.data(), static_cast<int64_t>(b.params.size()));
      r.networks += b.size();
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// Tries to drop the file from the page cache (fsync first: dirty pages cannot be dropped), or with `warm`
// reads it once so that it is cached, and returns the resident fraction afterwards, measured with mincore()
// on a read-only mapping (which faults nothing in).
double set_cache(const std::string& path, bool warm) {
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return -1;
  fdatasync(fd);
  if (warm) {
    static char buf[1 << 16];
    while (read(fd, buf, sizeof buf) > 0) {
    }
  } else {
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  }
  double frac = -1;
  const auto size = static_cast<std::size_t>(fs::file_size(path));
  void* m = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (m != MAP_FAILED) {
    const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE)), pages = (size + page - 1) / page;
    std::vector<unsigned char> v(pages);
    if (mincore(m, size, v.data()) == 0)
      frac = static_cast<double>(std::count_if(v.begin(), v.end(), [](unsigned char c) { return c & 1; })) / pages;
    munmap(m, size);
  }
  close(fd);
  return frac;
}

double median(std::vector<double> v) { std::sort(v.begin(), v.end()); return v[v.size() / 2]; }
double max_of(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) { std::fprintf(stderr, "%s needs a value\n%s", a.c_str(), kUsage); std::exit(2); }
      return argv[++i];
    };
    auto number = [&]() -> int64_t {
      const std::string v = value();
      char* end = nullptr;
      const long long x = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end) { std::fprintf(stderr, "%s: '%s' is not a number\n", a.c_str(), v.c_str()); std::exit(2); }
      return x;
    };
    if (a == "--help" || a == "-h") { std::fputs(kUsage, stdout); return 0; }
    else if (a == "--dir") o.dir = value();
    else if (a == "--params") o.params = number();
    else if (a == "--small") o.small = number();
    else if (a == "--large") o.large = number();
    else if (a == "--budget-mb") o.budget_mb = number();
    else if (a == "--batch") o.batch = number();
    else if (a == "--repeat") o.repeat = number();
    else if (a == "--keep") o.keep = true;
    else if (a == "--warm") o.warm = true;
    else if (a == "--quick") o.small = 2000, o.large = 8000, o.budget_mb = 16, o.repeat = 1;
    else { std::fprintf(stderr, "unknown option '%s'\n%s", a.c_str(), kUsage); return 2; }
  }
  if (std::min({o.params, o.small, o.large, o.budget_mb, o.batch, o.repeat}) < 1) {
    std::fprintf(stderr, "all sizes must be >= 1\n%s", kUsage);
    return 2;
  }
  fs::create_directories(o.dir);

  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  utsname u{};
  uname(&u);
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M %Z", std::localtime(&now));
  std::printf("bench_zoo_read  %s | %s %s | %ld online cores | HDF5 %u.%u.%u\n", date, u.sysname, u.release,
              sysconf(_SC_NPROCESSORS_ONLN), maj, min, rel);
  std::printf("params/network %lld (%.1f KB), stream budget %lld MiB, batch %lld, %lld repeat(s): median time, max "
              "RSS\nparent peak RSS %.1f MiB. Timed: stream construction + one epoch, summing the squares of every "
              "float;\nnot timed: ZooFile::open. cached%% = share of the file in the page cache right before the "
              "read,\nafter fdatasync + %s (mincore on a mapping of the file).\n\n",
              (long long)o.params, o.params * 4 / 1e3, (long long)o.budget_mb, (long long)o.batch,
              (long long)o.repeat, self.ru_maxrss / 1024.0,
              o.warm ? "reading the whole file (--warm)" : "posix_fadvise(DONTNEED)");

  const std::vector<Mode> modes = {Mode::open_only, Mode::raw, Mode::seq_prefetch, Mode::seq_sync, Mode::shuffled};
  std::map<int64_t, double> total, above, slowest;  // per size, worst streaming mode: RSS and time vs raw
  bool all_ok = true;
  std::error_code ec;
  for (int64_t n : {o.small, o.large}) {
    const std::string path = o.dir + "/zoo_p" + std::to_string(o.params) + "_n" + std::to_string(n) + ".h5";
    const ChildResult w = run_child([&] { return write_zoo(path, n, o.params); });
    if (!w.ok || (w.r.status != 0 && w.r.status != 10)) { std::fprintf(stderr, "cannot write %s\n", path.c_str()); return 1; }
    const double mb = static_cast<double>(n) * o.params * 4 / 1e6;
    char written[64];
    std::snprintf(written, sizeof written, "written in %.2f s", w.r.seconds);
    std::printf("%s: %lld networks, %.1f MB of weights = %.1fx the budget; %s (writer child peak RSS %.0f MiB)\n",
                path.c_str(), (long long)n, mb, mb * 1e6 / (o.budget_mb << 20),
                w.r.status == 10 ? "reused the existing file" : written, w.peak_rss_mib);

    std::map<Mode, std::vector<double>> secs, rss, cached;
    std::map<Mode, double> checksum;
    for (int64_t rep = 0; rep < o.repeat; ++rep)
      for (Mode m : modes) {  // modes interleaved, so drift (other load on the machine) hits all alike
        cached[m].push_back(set_cache(path, o.warm));
        const ChildResult c = run_child([&] { return read_zoo(path, m, o); });
        if (!c.ok || c.r.status != 0 || (m != Mode::open_only && c.r.networks != n)) {
          std::fprintf(stderr, "%s: %s failed or delivered %lld of %lld networks\n", path.c_str(), mode_name(m),
                       (long long)c.r.networks, (long long)n);
          all_ok = false;
        }
        secs[m].push_back(c.r.seconds), rss[m].push_back(c.peak_rss_mib), checksum[m] = c.r.checksum;
      }
    std::printf("%9s %8s  %-24s %7s %11s %9s %9s %11s %7s\n", "networks", "MB", "mode", "cached%", "networks/s",
                "MB/s", "peak MiB", "above open", "vs raw");
    const double base = max_of(rss[Mode::open_only]), raw_t = median(secs[Mode::raw]);
    for (Mode m : modes) {
      const double t = median(secs[m]), p = max_of(rss[m]);
      char speed[64] = "          -         -", ratio[16] = "-";
      if (m != Mode::open_only) {
        std::snprintf(speed, sizeof speed, "%11.0f %9.1f", n / t, mb / t);
        std::snprintf(ratio, sizeof ratio, "%.2fx", t / raw_t);
        // Same floats in another summation order: the sums of squares agree to ~1e-12 relative.
        if (std::fabs(checksum[m] - checksum[Mode::raw]) > 1e-6 * checksum[Mode::raw]) {
          std::fprintf(stderr, "%s: %s read other data than the raw read\n", path.c_str(), mode_name(m));
          all_ok = false;
        }
      }
      if (m != Mode::open_only && m != Mode::raw) {
        total[n] = std::max(total[n], p), above[n] = std::max(above[n], p - base);
        slowest[n] = std::max(slowest[n], t / raw_t);
      }
      std::printf("%9lld %8.1f  %-24s %6.0f%% %s %9.1f %11.1f %7s\n", (long long)n, mb, mode_name(m),
                  100 * median(cached[m]), speed, p, p - base, ratio);
    }
    std::printf("\n");
    if (!o.keep) fs::remove(path, ec);
  }
  std::printf("vs raw = median time / median time of raw read_rows in chunk-sized blocks (1.00x = nothing over HDF5;\n"
              "the raw read reuses one ~1 MiB buffer that stays in the CPU cache, so it is a best case).\n%s",
              o.warm ? "--warm: reads came from the page cache (RAM); this shows the CPU cost of the read path.\n"
                     : "cached% ~0: the guest page cache was emptied, reads went to the block device (which may "
                       "have its own cache);\n~100: DONTNEED could not evict and the reads came from RAM.\n");
  std::printf("VERDICT: peak RSS large/small (worst streaming mode): %.2fx (%.1f -> %.1f MiB; above the open-only "
              "child %.1f -> %.1f MiB, budget %lld MiB) for a %.1fx larger file; stream time vs raw read, worst mode: "
              "%.2fx (small), %.2fx (large)%s\n",
              total[o.large] / total[o.small], total[o.small], total[o.large], above[o.small], above[o.large],
              (long long)o.budget_mb, static_cast<double>(o.large) / o.small, slowest[o.small], slowest[o.large],
              all_ok ? "" : "  [ERRORS above]");
  if (!o.keep) fs::remove(o.dir, ec);  // only succeeds when empty: other files there are left alone
  return all_ok ? 0 : 1;
}
