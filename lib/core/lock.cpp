#include "core/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "core/error.h"

namespace sne {

OutputLock OutputLock::acquire(const std::string& lock_path, const std::string& what) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    // O_NONBLOCK: nothing blocks on a FIFO someone put in its place.
    const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
    if (fd < 0)
      throw IoError(lock_path + ": cannot create the lock file for " + what + " (" + std::strerror(errno) + ")");
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw IoError(lock_path + ": the lock file of " + what + " is not a regular file");
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      std::string holder;
      if (err == EWOULDBLOCK) {
        char buf[256] = {};
        const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
        holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("another process");
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
      }
      ::close(fd);
      if (err == EWOULDBLOCK)
        throw IoError(what + ": in use by " + holder + "; wait for it to finish or stop it (one writer per output)");
      throw IoError(lock_path + ": cannot lock (" + std::strerror(err) + ")");
    }
    // The holder before us may have removed the file after we opened it: the lock must be on the file the
    // path names now.
    struct stat now {};
    if (::stat(lock_path.c_str(), &now) != 0 || now.st_ino != st.st_ino || now.st_dev != st.st_dev) {
      ::close(fd);
      continue;
    }
    char host[128] = {};
    ::gethostname(host, sizeof host - 1);
    const std::time_t t = std::time(nullptr);
    char when[32] = {};
    std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
    const std::string text = "sne pid " + std::to_string(::getpid()) + " on host " + host + " since " + when + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) < 0) {
      // The lock holds without its note; a second writer is still refused, only with a vaguer message.
    }
    OutputLock l;
    l.fd_ = fd;
    l.path_ = lock_path;
    return l;
  }
  throw IoError(lock_path + ": the lock file of " + what + " keeps being replaced; is another writer starting?");
}

OutputLock::OutputLock(OutputLock&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }

OutputLock& OutputLock::operator=(OutputLock&& o) noexcept {
  if (this != &o) {
    release();
    fd_ = o.fd_;
    path_ = std::move(o.path_);
    o.fd_ = -1;
  }
  return *this;
}

OutputLock::~OutputLock() { release(); }

void OutputLock::release() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // while still locked: a waiting writer then sees a fresh file (see acquire)
  ::close(fd_);
  fd_ = -1;
}

}  // namespace sne
