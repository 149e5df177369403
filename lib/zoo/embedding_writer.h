#pragma once
// The file `sne encode` writes: one code vector per network, appended in batches (HDF5, plain h5py-readable):
//   /embeddings  float32 [N, dim]     /index  int64 [N] (network index in the source zoo)
//   /properties/<p>  float64 [N]      attrs on /: sne_format = "sne-embeddings", format_version = 1, json (provenance)
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/lock.h"

namespace sne::zoo {

class EmbeddingWriter {
 public:
  /// Creates the file (refusing an existing one unless `overwrite`). It is written as PATH.partial and renamed
  /// to PATH by close(); a writer destroyed unclosed (an error, a full disk) removes PATH.partial, and an
  /// existing PATH stays as it was until close().
  EmbeddingWriter(const std::string& path, int64_t dim, const std::vector<std::string>& properties,
                  const Json& provenance, bool overwrite);
  ~EmbeddingWriter();
  /// Appends n rows: codes [n, dim], their network indices and property values [n, properties].
  void append(const float* codes, const std::vector<int64_t>& index, const std::vector<double>& properties);
  int64_t rows() const { return rows_; }
  void close();

 private:
  struct Handles;
  OutputLock lock_;  ///< first member, so released last: PATH.lock, one writer per file
  std::unique_ptr<Handles> h_;
  std::string path_;
  std::string partial_;  ///< PATH.partial while writing; "" once closed
  int64_t dim_, rows_ = 0;
  std::vector<std::string> properties_;
};

}  // namespace sne::zoo
