#pragma once
// One writer per output: an exclusive advisory lock (flock) on a lock file next to the output, holding the
// writer's pid, host and start time for the message a second writer gets. The kernel drops the lock when its
// process dies (kill -9, a crash), so no stale lock is ever left to clear by hand; the file is removed on release.
#include <string>

namespace sne {

class OutputLock {
 public:
  OutputLock() = default;
  /// Takes the lock `lock_path` for `what` (the output, as users name it). IoError naming the output and the
  /// holder ("in use by sne pid 1234 on host a since 12:00:01") when another process holds it, or naming the
  /// lock file when it cannot be created.
  static OutputLock acquire(const std::string& lock_path, const std::string& what);
  OutputLock(OutputLock&& o) noexcept;
  OutputLock& operator=(OutputLock&& o) noexcept;
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  ~OutputLock();
  /// Releases early (idempotent).
  void release();
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace sne
