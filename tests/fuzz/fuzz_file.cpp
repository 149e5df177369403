#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "fuzz_target.h"

std::string sne_fuzz_file(const uint8_t* data, size_t size, const char* suffix) {
  static const std::string dir = [] {
    std::error_code ec;
    const std::string base = std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm" : "/tmp";
    const std::string d = base + "/sne-fuzz-" + std::to_string(::getpid());
    std::filesystem::create_directories(d, ec);
    return d;
  }();
  const std::string path = dir + "/input" + suffix;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) sne_fuzz_fail("cannot write " + path);
  if (size && std::fwrite(data, 1, size, f) != size) sne_fuzz_fail("cannot write " + path);
  std::fclose(f);
  return path;
}
