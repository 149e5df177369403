#include "core/files.h"

#include <ftw.h>
#include <sys/stat.h>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace sne {
namespace {
int remove_entry(const char* path, const struct stat*, int, struct FTW*) { return std::remove(path) == 0 ? 0 : errno; }
}  // namespace

void remove_tree(const std::string& path, std::error_code& ec) {
  ec.clear();
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) ec.assign(errno, std::generic_category());
    return;
  }
  // Depth first (children before their directory), not following links, at most 64 open directories.
  const int rc = nftw(path.c_str(), remove_entry, 64, FTW_DEPTH | FTW_PHYS);
  if (rc != 0) ec.assign(rc > 0 ? rc : errno, std::generic_category());
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError(path + ": cannot read (" + std::strerror(errno) + ")");
  std::stringstream s;
  s << f.rdbuf();
  if (f.bad()) throw IoError(path + ": cannot read");
  return s.str();
}

void write_text_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw IoError(path + ": cannot write (" + std::strerror(errno) + ")");
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const int err = errno;
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = !written ? err : errno;
    std::remove(tmp.c_str());
    throw IoError(path + ": cannot write (" + std::strerror(e) + ")");
  }
}

}  // namespace sne
