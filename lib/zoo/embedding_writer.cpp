#include "zoo/embedding_writer.h"

#include <filesystem>

#include "core/error.h"
#include "zoo/h5.h"

namespace sne::zoo {

struct EmbeddingWriter::Handles {
  h5::Handle file, codes, index;
  std::vector<h5::Handle> props;
};

EmbeddingWriter::EmbeddingWriter(const std::string& path, int64_t dim, const std::vector<std::string>& properties,
                                 const Json& provenance, bool overwrite)
    : lock_(OutputLock::acquire(path + ".lock", path)), h_(std::make_unique<Handles>()), path_(path), dim_(dim),
      properties_(properties) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !overwrite)
    throw IoError(path + ": already exists (refusing to overwrite; pass --overwrite)");
  partial_ = path + ".partial";  // renamed to `path` by close(): a file under `path` is always complete
  h_->file = h5::create_file(partial_);
  const hid_t root = h_->file.get();
  h5::write_attr_string(root, "sne_format", "sne-embeddings", path);
  h5::write_attr_int(root, "format_version", 1, path);
  h5::write_attr_string(root, "json", provenance.dump(), path);
  const auto chunk = static_cast<hsize_t>(std::max<int64_t>(1, (int64_t{1} << 20) / (4 * dim)));
  h_->codes = h5::create_rows(root, "embeddings", static_cast<hsize_t>(dim), chunk, 0, path);
  h_->index = h5::create_vector(root, "index", h5::native_type<int64_t>(), path);
  for (const auto& p : properties)
    h_->props.push_back(h5::create_vector(root, "properties/" + p, h5::native_type<double>(), path));
}

EmbeddingWriter::~EmbeddingWriter() {
  if (partial_.empty()) return;  // closed
  h_.reset();
  std::error_code ec;
  std::filesystem::remove(partial_, ec);  // an encode that failed (a full disk) or stopped leaves no file behind
}

void EmbeddingWriter::append(const float* codes, const std::vector<int64_t>& index, const std::vector<double>& props) {
  const auto n = static_cast<hsize_t>(index.size());
  h5::append_rows(h_->codes, codes, n, static_cast<hsize_t>(dim_), path_);
  h5::append_vector(h_->index, index, path_);
  for (std::size_t k = 0; k < properties_.size(); ++k) {
    std::vector<double> column(index.size());
    for (std::size_t i = 0; i < index.size(); ++i) column[i] = props[i * properties_.size() + k];
    h5::append_vector(h_->props[k], column, path_);
  }
  rows_ += static_cast<int64_t>(n);
}

void EmbeddingWriter::close() {
  if (partial_.empty()) return;
  if (h_->file.valid()) h5::flush(h_->file);
  h_ = std::make_unique<Handles>();
  std::error_code ec;
  std::filesystem::rename(partial_, path_, ec);
  if (ec) throw IoError(path_ + ": cannot move the finished file into place (" + ec.message() + ")");
  partial_.clear();
  lock_.release();
}

}  // namespace sne::zoo
