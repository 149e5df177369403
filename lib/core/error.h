#pragma once
// Error types of the library. The library throws; only apps/ turns errors into exit codes.
#include <stdexcept>
#include <string>

namespace sne {

/// What went wrong, coarse enough to choose an exit code from (see apps/sne/main.cpp).
enum class ErrorKind {
  internal,    ///< a bug or an unexpected library failure
  usage,       ///< bad command line
  config,      ///< bad configuration file or override
  data,        ///< unreadable, invalid or inconsistent zoo / dataset file
  checkpoint,  ///< unreadable or incompatible checkpoint
  io,          ///< cannot write an output
  distributed, ///< another process of a data-parallel run failed, hung or could not be reached
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

struct ConfigError : Error {
  explicit ConfigError(const std::string& m) : Error(ErrorKind::config, m) {}
};
struct DataError : Error {
  explicit DataError(const std::string& m) : Error(ErrorKind::data, m) {}
};
struct IoError : Error {
  explicit IoError(const std::string& m) : Error(ErrorKind::io, m) {}
};
struct CheckpointError : Error {
  explicit CheckpointError(const std::string& m) : Error(ErrorKind::checkpoint, m) {}
};
struct DistributedError : Error {
  explicit DistributedError(const std::string& m) : Error(ErrorKind::distributed, m) {}
};
struct UsageError : Error {
  explicit UsageError(const std::string& m) : Error(ErrorKind::usage, m) {}
};

}  // namespace sne
