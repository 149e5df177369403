// The zoo reader and validator (lib/zoo): open, summarise (sne zoo info), validate (sne zoo validate) and stream
// a hostile file in a small memory budget. A bad file is a DataError naming it, never a crash, a hang or an
// allocation the file's real size cannot justify.
#include <unistd.h>

#include <csignal>

#include "core/error.h"
#include "fuzz_target.h"
#include "zoo/zoo_check.h"
#include "zoo/zoo_file.h"
#include "zoo/zoo_stream.h"

// The replay pass's --fork children: a crash inside HDF5 exits 86 (counted), as the sne binary exits 3 naming the
// file (apps/sne/signals.cpp); a crash anywhere else keeps its default action (a defect).
namespace {
void on_crash(int) {
  if (sne::zoo::hdf5_busy()) _exit(86);
}
}  // namespace

extern "C" void sne_fuzz_in_child() {
  sne::zoo::hdf5_no_exit_cleanup();
  struct sigaction sa {};
  sa.sa_handler = on_crash;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) sigaction(sig, &sa, nullptr);
}
// A child over its time: a hang inside HDF5 (seen: H5HG_read looping on a damaged global heap) exits 87;
// elsewhere it is a hang of sne, and the default action of SIGALRM fails the pass.
extern "C" void sne_fuzz_on_alarm(int) {
  if (sne::zoo::hdf5_busy()) _exit(87);
  signal(SIGALRM, SIG_DFL);
  raise(SIGALRM);
}

SNE_FUZZ_TARGET(data, size) {
  const std::string path = sne_fuzz_file(data, size, ".h5");
  try {
    auto zoo = sne::zoo::ZooFile::open(path);
    (void)sne::zoo::to_text(sne::zoo::summarize(*zoo));
    (void)sne::zoo::check_zoo(zoo, int64_t{16} << 20);
    sne::zoo::StreamOptions o;
    o.batch_size = 4;
    o.memory_budget_bytes = int64_t{4} << 20;
    o.prefetch = false;
    o.properties = zoo->property_names();
    for (const auto& s : zoo->split_names()) {
      o.split = s;
      try {
        sne::zoo::ZooStream stream(zoo, o);
        sne::zoo::NetworkBatch b;
        for (int k = 0; k < 3 && stream.next(b); ++k) {
        }
      } catch (const sne::Error&) {
      }
    }
  } catch (const sne::Error&) {
  }
  return 0;
}
