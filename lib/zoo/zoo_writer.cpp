#include "zoo/zoo_writer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>

#include "core/error.h"
#include "core/strings.h"
#include "core/version.h"
#include "zoo/h5.h"
#include "zoo/zoo_file.h"

namespace sne::zoo {

struct ZooWriter::Handles {
  h5::Handle file;
  std::vector<h5::Handle> params;
};

bool is_valid_name(const std::string& name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '+' || c == '-';
  });
}

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void require_name(const std::string& what, const std::string& name, const std::string& path) {
  if (!is_valid_name(name))
    throw DataError(path + ": invalid " + what + " name '" + name + "' (use letters, digits and _ . + -)");
}

int64_t chunk_rows_for(int64_t num_params) { return std::max<int64_t>(1, (int64_t{1} << 20) / (4 * num_params)); }

// Cuts the torn end of an interrupted flush (see open_append): every /networks/* dataset to the shortest one's
// length, each params dataset to the rows its remaining networks use. Leaves anything else to ZooFile::open.
void cut_torn_tail(const std::string& path, bool writable = false) {
  h5::Handle file = h5::open_file(path, writable);  // read-only first: most files are whole, and stay untouched
  const hid_t root = file.get();
  if (!h5::exists(root, "networks/architecture") || !h5::exists(root, "networks/row")) return;
  std::vector<std::string> columns = {"networks/architecture", "networks/row"};
  for (const char* g : {"networks/properties", "networks/metadata"})
    if (h5::exists(root, g))
      for (const auto& n : h5::list_group(h5::open_group(root, g, path).get(), path)) columns.push_back(std::string(g) + "/" + n);
  hsize_t n = std::numeric_limits<hsize_t>::max();
  std::vector<std::pair<std::string, hsize_t>> lengths;
  for (const auto& c : columns) {
    const h5::Handle d = h5::open_dataset(root, c, path);
    const auto dd = h5::dims(d, path + ": /" + c);
    if (dd.size() != 1) return;  // not a torn flush: ZooFile::open names the problem
    h5::check_declared_size(d, path + ": /" + c);
    lengths.emplace_back(c, dd[0]);
    n = std::min(n, dd[0]);
  }
  if (!h5::exists(root, "architectures")) return;
  const auto arch = h5::read_vector<int32_t>(h5::open_dataset(root, "networks/architecture", path), 0, n, path);
  bool torn = false;
  for (const auto& [c, len] : lengths) torn = torn || len > n;
  std::vector<std::pair<std::string, hsize_t>> params;  // (dataset, rows its networks use)
  for (const auto& name : h5::list_group(h5::open_group(root, "architectures", path).get(), path)) {
    const std::string gp = "architectures/" + name;
    if (!h5::exists(root, gp + "/params")) continue;
    const int64_t index = h5::read_attr_int(h5::open_group(root, gp, path).get(), "index", path + ": /" + gp);
    const auto used = static_cast<hsize_t>(std::count(arch.begin(), arch.end(), static_cast<int32_t>(index)));
    const auto dd = h5::dims(h5::open_dataset(root, gp + "/params", path), path + ": /" + gp + "/params");
    if (dd.size() == 2 && dd[0] > used) torn = true, params.emplace_back(gp + "/params", used);
  }
  if (!torn) return;
  if (!writable) {
    file.reset();
    cut_torn_tail(path, true);
    return;
  }
  for (const auto& [c, len] : lengths)
    if (len > n) h5::resize(h5::open_dataset(root, c, path), n, path + ": /" + c);
  for (const auto& [d, used] : params) h5::resize(h5::open_dataset(root, d, path), used, path + ": /" + d);
  h5::flush(file);
}

}  // namespace

std::unique_ptr<ZooWriter> ZooWriter::create(const std::string& path, const Json& provenance, Options options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(path, ec) && !options.overwrite)
    throw IoError(path + ": already exists (refusing to overwrite a file)");
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec))
    throw IoError(path + ": cannot create the zoo, directory '" + parent.string() + "' does not exist");
  std::unique_ptr<ZooWriter> w(new ZooWriter());
  w->lock_ = OutputLock::acquire(path + ".lock", path);
  w->path_ = path;
  w->options_ = options;
  w->h_ = std::make_unique<Handles>();
  w->h_->file = h5::create_file(path);
  const hid_t root = w->h_->file.get();
  h5::write_attr_string(root, "sne_format", kFormatName, path);
  h5::write_attr_int(root, "format_version", kFormatVersion, path);
  h5::write_attr_string(root, "created_by", std::string("sne ") + kVersion, path);
  h5::create_group(root, "architectures", path);
  h5::create_group(root, "networks/properties", path);
  h5::create_group(root, "networks/metadata", path);
  h5::create_group(root, "splits", path);
  h5::create_vector(root, "networks/architecture", h5::native_type<int32_t>(), path);
  h5::create_vector(root, "networks/row", h5::native_type<int64_t>(), path);
  w->set_provenance(provenance);
  h5::flush(w->h_->file);
  return w;
}

void ZooWriter::repair_torn_tail(const std::string& path) { cut_torn_tail(path); }

std::unique_ptr<ZooWriter> ZooWriter::open_append(const std::string& path, Options options) {
  std::unique_ptr<ZooWriter> w(new ZooWriter());
  w->lock_ = OutputLock::acquire(path + ".lock", path);
  w->path_ = path;
  w->options_ = options;
  repair_torn_tail(path);
  {
    auto existing = ZooFile::open(path);  // validates; closed before reopening for writing
    w->provenance_ = existing->provenance();
    w->archs_ = existing->architectures();
    w->arch_rows_ = existing->rows_per_architecture();
    w->flushed_ = existing->num_networks();
    for (const auto& p : existing->property_names()) w->properties_[p].on_disk = true;
    for (const auto& m : existing->metadata_names()) {
      auto& c = w->metadata_[m];
      c.on_disk = true;
      c.is_string = existing->metadata_is_string(m);
    }
  }
  w->h_ = std::make_unique<Handles>();
  w->h_->file = h5::open_file(path, true);
  for (const auto& a : w->archs_)
    w->h_->params.push_back(h5::open_dataset(w->h_->file.get(), "architectures/" + a.name + "/params", path));
  w->pending_rows_.resize(w->archs_.size());
  return w;
}

ZooWriter::~ZooWriter() {
  if (closed_) return;
  if (failed_) {  // the error was reported where it happened; writing again would only fail again
    closed_ = true;
    h_.reset();
    return;
  }
  try {
    close();
  } catch (const std::exception& e) {
    std::cerr << "sne: error while closing " << path_ << ": " << e.what() << "\n";
  }
}

int ZooWriter::add_architecture(const ArchitectureSpec& spec_in) {
  ArchitectureSpec spec = spec_in;
  spec.assign_offsets();
  require_name("architecture", spec.name, path_);
  const auto problems = spec.problems();
  if (!problems.empty()) throw DataError(path_ + ": invalid architecture spec: " + join(problems, "; "));
  for (std::size_t i = 0; i < archs_.size(); ++i) {
    if (archs_[i].name != spec.name) continue;
    if (archs_[i] == spec) return static_cast<int>(i);
    throw DataError(path_ + ": architecture '" + spec.name + "' already exists with a different spec");
  }
  const std::string gp = "architectures/" + spec.name;
  const hid_t root = h_->file.get();
  h5::Handle g = h5::create_group(root, gp, path_);
  h5::write_attr_int(g.get(), "index", static_cast<int64_t>(archs_.size()), path_);
  h5::write_attr_string(g.get(), "spec", spec.to_json().dump(), path_);
  const int64_t p = spec.num_params();
  h_->params.push_back(h5::create_rows(root, gp + "/params", static_cast<hsize_t>(p),
                                       static_cast<hsize_t>(chunk_rows_for(p)), options_.gzip_level, path_));
  archs_.push_back(std::move(spec));
  arch_rows_.push_back(0);
  pending_rows_.emplace_back();
  return static_cast<int>(archs_.size() - 1);
}

int64_t ZooWriter::append(int arch, const float* params, const Properties& properties, const Metadata& metadata) {
  if (closed_) throw IoError(path_ + ": append after close");
  if (arch < 0 || arch >= static_cast<int>(archs_.size()))
    throw DataError(path_ + ": append: no architecture with index " + std::to_string(arch));
  // Check everything before changing any state, so a refused network leaves the writer as it was.
  for (const auto& kv : properties) require_name("property", kv.first, path_);
  for (const auto& [name, value] : metadata) {
    require_name("metadata", name, path_);
    const bool is_string = std::holds_alternative<std::string>(value);
    const auto it = metadata_.find(name);
    if (it != metadata_.end() && it->second.is_string != is_string)
      throw DataError(path_ + ": metadata '" + name + "' holds " + (it->second.is_string ? "strings" : "numbers") +
                      "; network " + std::to_string(num_networks()) + " gives it a " +
                      (is_string ? "string" : "number"));
  }
  const auto a = static_cast<std::size_t>(arch);
  const int64_t pending = static_cast<int64_t>(pending_arch_.size());
  const auto n = static_cast<std::size_t>(archs_[a].num_params());
  pending_rows_[a].insert(pending_rows_[a].end(), params, params + n);
  pending_arch_.push_back(arch);
  pending_row_.push_back(arch_rows_[a]++);
  pending_bytes_ += static_cast<int64_t>(n * sizeof(float));

  // Every known column gets one pending value per network; a new column is back-filled as unknown.
  for (auto& kv : properties_) kv.second.numbers.push_back(kNaN);
  for (const auto& [name, value] : properties) {
    auto it = properties_.find(name);
    if (it == properties_.end()) {
      it = properties_.emplace(name, Column{}).first;
      it->second.numbers.assign(static_cast<std::size_t>(pending) + 1, kNaN);
    }
    it->second.numbers.back() = value;
  }
  for (auto& kv : metadata_) {
    if (kv.second.is_string) kv.second.strings.emplace_back();
    else kv.second.numbers.push_back(kNaN);
  }
  for (const auto& [name, value] : metadata) {
    const bool is_string = std::holds_alternative<std::string>(value);
    auto it = metadata_.find(name);
    if (it == metadata_.end()) {
      Column c;
      c.is_string = is_string;
      if (is_string) c.strings.assign(static_cast<std::size_t>(pending) + 1, "");
      else c.numbers.assign(static_cast<std::size_t>(pending) + 1, kNaN);
      it = metadata_.emplace(name, std::move(c)).first;
    }
    if (is_string) it->second.strings.back() = std::get<std::string>(value);
    else it->second.numbers.back() = std::get<double>(value);
  }
  const int64_t index = flushed_ + pending;
  if (pending_bytes_ >= options_.buffer_bytes) write_pending();
  return index;
}

void ZooWriter::write_pending() {
  if (pending_arch_.empty()) return;
  if (failed_) throw IoError(path_ + ": an earlier write failed; nothing more is written");
  try {
    write_pending_unchecked();
  } catch (...) {
    failed_ = true;
    throw;
  }
}

void ZooWriter::write_pending_unchecked() {
  const hid_t root = h_->file.get();
  for (std::size_t a = 0; a < archs_.size(); ++a) {
    const auto p = static_cast<hsize_t>(archs_[a].num_params());
    h5::append_rows(h_->params[a], pending_rows_[a].data(), pending_rows_[a].size() / p, p, path_);
    pending_rows_[a].clear();
  }
  h5::append_vector(h5::open_dataset(root, "networks/architecture", path_), pending_arch_, path_);
  h5::append_vector(h5::open_dataset(root, "networks/row", path_), pending_row_, path_);
  const auto n_flushed = static_cast<hsize_t>(flushed_);
  const auto write_columns = [&](const std::string& group, std::map<std::string, Column>& cols) {
    for (auto& [name, c] : cols) {
      const std::string dp = group + "/" + name;
      if (!c.on_disk) {  // a new column: earlier networks get the "unknown" value
        if (c.is_string) {
          h5::Handle d = h5::create_string_vector(root, dp, path_);
          h5::append_strings(d, std::vector<std::string>(n_flushed), path_);
        } else {
          h5::Handle d = h5::create_vector(root, dp, h5::native_type<double>(), path_);
          h5::resize(d, n_flushed, path_);  // NaN fill value
        }
        c.on_disk = true;
      }
      h5::Handle d = h5::open_dataset(root, dp, path_);
      if (c.is_string) h5::append_strings(d, c.strings, path_);
      else h5::append_vector(d, c.numbers, path_);
      c.numbers.clear();
      c.strings.clear();
    }
  };
  write_columns("networks/properties", properties_);
  write_columns("networks/metadata", metadata_);
  flushed_ += static_cast<int64_t>(pending_arch_.size());
  pending_arch_.clear();
  pending_row_.clear();
  pending_bytes_ = 0;
}

void ZooWriter::set_split(const std::string& name, std::vector<int64_t> indices) {
  require_name("split", name, path_);
  std::sort(indices.begin(), indices.end());
  indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  if (!indices.empty() && (indices.front() < 0 || indices.back() >= num_networks()))
    throw DataError(path_ + ": split '" + name + "' names network " +
                    std::to_string(indices.front() < 0 ? indices.front() : indices.back()) + ", but the zoo has " +
                    std::to_string(num_networks()) + " networks");
  const hid_t root = h_->file.get();
  h5::remove(root, "splits/" + name, path_);
  h5::Handle d = h5::create_vector(root, "splits/" + name, h5::native_type<int64_t>(), path_);
  h5::append_vector(d, indices, path_);
}

void ZooWriter::set_provenance(const Json& provenance) {
  provenance_ = provenance;
  const hid_t root = h_->file.get();
  if (!h5::exists(root, "provenance")) h5::create_group(root, "provenance", path_);
  h5::Handle g = h5::open_group(root, "provenance", path_);
  h5::write_attr_string(g.get(), "json", provenance.dump(), path_);
}

void ZooWriter::flush() {
  write_pending();
  h5::flush(h_->file);
}

void ZooWriter::close() {
  if (closed_) return;
  closed_ = true;
  if (failed_) {
    h_.reset();
    lock_.release();
    throw IoError(path_ + ": not closed cleanly: an earlier write failed (rerun the command to complete it)");
  }
  write_pending();
  h5::flush(h_->file);
  h_.reset();
  lock_.release();
}

}  // namespace sne::zoo
