#include "zoo/zoo_file.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "core/strings.h"
#include "zoo/h5.h"

namespace sne::zoo {

struct ZooFile::Handles {
  h5::Handle file;
  std::vector<h5::Handle> params;  // per architecture
};

ZooFile::~ZooFile() = default;

namespace {

std::vector<double> read_column(const h5::Handle& file, const std::string& dataset_path, int64_t begin, int64_t count,
                                const std::string& where) {
  h5::Handle d = h5::open_dataset(file.get(), dataset_path, where);
  h5::check_declared_size(d, where);
  return h5::read_vector<double>(d, static_cast<hsize_t>(begin), static_cast<hsize_t>(count), where);
}

std::string shape_text(const std::vector<hsize_t>& d) {
  std::vector<std::string> parts;
  for (hsize_t x : d) parts.push_back(std::to_string(x));
  return "[" + join(parts) + "]";
}

std::string tensor_list(const ArchitectureSpec& a) {
  std::vector<std::string> parts;
  for (const auto& l : a.layers)
    for (const auto& t : l.tensors) {
      std::vector<hsize_t> d(t.shape.begin(), t.shape.end());
      parts.push_back(t.name + " " + shape_text(d));
    }
  return join(parts);
}

std::vector<std::string> children(const h5::Handle& file, const std::string& group, const std::string& where) {
  if (!h5::exists(file.get(), group)) return {};
  h5::Handle g = h5::open_group(file.get(), group, where);
  return h5::list_group(g.get(), where);
}

}  // namespace

std::shared_ptr<ZooFile> ZooFile::open(const std::string& path) {
  std::shared_ptr<ZooFile> z(new ZooFile());
  z->path_ = path;
  z->h_ = std::make_unique<Handles>();
  auto& file = z->h_->file;
  file = h5::open_file(path, false);
  const hid_t root = file.get();

  if (!h5::has_attr(root, "sne_format"))
    throw DataError(path + ": an HDF5 file without the sne zoo schema (no attribute 'sne_format' on '/'; "
                           "see docs/zoo-format.md)");
  const std::string fmt = h5::read_attr_string(root, "sne_format", path);
  if (fmt != kFormatName)
    throw DataError(path + ": attribute 'sne_format' is '" + fmt + "', expected '" + kFormatName + "'");
  z->format_version_ = h5::read_attr_int(root, "format_version", path);
  if (z->format_version_ > kFormatVersion)
    throw DataError(path + ": zoo format version " + std::to_string(z->format_version_) +
                    " is newer than this sne reads (up to " + std::to_string(kFormatVersion) + "); upgrade sne");
  if (z->format_version_ < 1)
    throw DataError(path + ": invalid zoo format version " + std::to_string(z->format_version_));
  if (h5::has_attr(root, "created_by")) z->created_by_ = h5::read_attr_string(root, "created_by", path);

  if (h5::exists(root, "provenance")) {
    h5::Handle g = h5::open_group(root, "provenance", path);
    if (h5::has_attr(g.get(), "json")) {
      const std::string text = h5::read_attr_string(g.get(), "json", path + ": /provenance");
      try {
        z->provenance_ = Json::parse(text);
      } catch (const std::exception& e) {
        throw DataError(path + ": /provenance attribute 'json': " + e.what());
      }
    }
  }

  // Architectures, ordered by their dense index.
  if (!h5::exists(root, "architectures")) throw DataError(path + ": missing group '/architectures'");
  const std::vector<std::string> names = children(file, "architectures", path);
  z->archs_.resize(names.size());
  z->arch_rows_.resize(names.size());
  z->chunk_rows_.resize(names.size());
  z->h_->params.resize(names.size());
  std::vector<bool> seen(names.size(), false);
  for (const auto& name : names) {
    const std::string gp = "architectures/" + name;
    const std::string where = path + ": /" + gp;
    h5::Handle g = h5::open_group(root, gp, path);
    const int64_t idx = h5::read_attr_int(g.get(), "index", where);
    if (idx < 0 || idx >= static_cast<int64_t>(names.size()) || seen[static_cast<std::size_t>(idx)])
      throw DataError(where + ": attribute 'index' is " + std::to_string(idx) + "; expected a unique index in [0, " +
                      std::to_string(names.size()) + ")");
    seen[static_cast<std::size_t>(idx)] = true;
    ArchitectureSpec spec;
    try {
      spec = ArchitectureSpec::from_json(Json::parse(h5::read_attr_string(g.get(), "spec", where)));
    } catch (const DataError&) {
      throw;
    } catch (const std::exception& e) {
      throw DataError(where + ": attribute 'spec': " + e.what());
    }
    if (spec.name != name)
      throw DataError(where + ": the spec names the architecture '" + spec.name + "', expected '" + name + "'");
    const auto problems = spec.problems();
    if (!problems.empty()) throw DataError(where + ": invalid spec: " + join(problems, "; "));
    h5::Handle params = h5::open_dataset(root, gp + "/params", path, /*chunk_cache=*/false);
    const auto d = h5::dims(params, where + "/params");
    if (d.size() != 2 || static_cast<int64_t>(d[1]) != spec.num_params())
      throw DataError(where + "/params has shape " + shape_text(d) + " but the architecture declares " +
                      std::to_string(spec.num_params()) + " parameters per network (" + tensor_list(spec) + ")");
    if (!h5::is_float_dataset(params)) throw DataError(where + "/params: expected float32 values");
    h5::check_declared_size(params, where + "/params");
    const auto chunk = h5::chunk_dims(params);
    const auto u = static_cast<std::size_t>(idx);
    z->arch_rows_[u] = static_cast<int64_t>(d[0]);
    z->chunk_rows_[u] = chunk.empty() ? std::max<int64_t>(1, static_cast<int64_t>(d[0])) : static_cast<int64_t>(chunk[0]);
    z->archs_[u] = std::move(spec);
    z->h_->params[u] = std::move(params);
  }

  // Per-network index.
  h5::Handle net_arch = h5::open_dataset(root, "networks/architecture", path);
  h5::Handle net_row = h5::open_dataset(root, "networks/row", path);
  const auto na = h5::dims(net_arch, path + ": /networks/architecture");
  const auto nr = h5::dims(net_row, path + ": /networks/row");
  if (na.size() != 1 || nr.size() != 1 || na[0] != nr[0])
    throw DataError(path + ": /networks/architecture " + shape_text(na) + " and /networks/row " + shape_text(nr) +
                    " must be 1-D of the same length");
  h5::check_declared_size(net_arch, path + ": /networks/architecture");
  h5::check_declared_size(net_row, path + ": /networks/row");
  z->num_networks_ = static_cast<int64_t>(na[0]);
  z->net_arch_ = h5::read_vector<int32_t>(net_arch, 0, na[0], path + ": /networks/architecture");
  z->net_row_ = h5::read_vector<int64_t>(net_row, 0, nr[0], path + ": /networks/row");
  for (int64_t i = 0; i < z->num_networks_; ++i) {
    const auto a = z->net_arch_[static_cast<std::size_t>(i)];
    if (a < 0 || a >= static_cast<int32_t>(z->archs_.size()))
      throw DataError(path + ": /networks/architecture[" + std::to_string(i) + "] = " + std::to_string(a) +
                      " names no architecture (the file has " + std::to_string(z->archs_.size()) + ")");
  }

  const auto check_column = [&](const std::string& group, const std::string& name) {
    h5::Handle d = h5::open_dataset(root, group + "/" + name, path);
    const auto dd = h5::dims(d, path + ": /" + group + "/" + name);
    if (dd.size() != 1 || static_cast<int64_t>(dd[0]) != z->num_networks_)
      throw DataError(path + ": /" + group + "/" + name + " has shape " + shape_text(dd) + ", expected [" +
                      std::to_string(z->num_networks_) + "] (one entry per network)");
    h5::check_declared_size(d, path + ": /" + group + "/" + name);
  };
  z->property_names_ = children(file, "networks/properties", path);
  for (const auto& p : z->property_names_) check_column("networks/properties", p);
  z->metadata_names_ = children(file, "networks/metadata", path);
  for (const auto& m : z->metadata_names_) check_column("networks/metadata", m);
  z->split_names_ = children(file, "splits", path);
  return z;
}

int ZooFile::architecture_index(const std::string& name) const {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < archs_.size(); ++i) {
    if (archs_[i].name == name) return static_cast<int>(i);
    names.push_back(archs_[i].name);
  }
  throw DataError(path_ + ": no architecture '" + name + "' (the file has: " + join(names) + ")");
}

bool ZooFile::has_property(const std::string& name) const {
  return std::find(property_names_.begin(), property_names_.end(), name) != property_names_.end();
}

std::vector<double> ZooFile::property(const std::string& name) const {
  return property_range({name}, 0, num_networks_).front();
}

std::vector<std::vector<double>> ZooFile::property_range(const std::vector<std::string>& names, int64_t begin,
                                                         int64_t count) const {
  std::vector<std::vector<double>> out;
  for (const auto& name : names) {
    if (!has_property(name)) {
      const std::string hint = did_you_mean(name, property_names_);
      throw DataError(path_ + ": the zoo has no property '" + name + "'" +
                      (hint.empty() ? "" : " (did you mean '" + hint + "'?)") + "; it has: " +
                      (property_names_.empty() ? std::string("none") : join(property_names_)));
    }
    out.push_back(read_column(h_->file, "networks/properties/" + name, begin, count,
                              path_ + ": /networks/properties/" + name));
  }
  return out;
}

MetadataColumn ZooFile::metadata(const std::string& name) const {
  if (std::find(metadata_names_.begin(), metadata_names_.end(), name) == metadata_names_.end())
    throw DataError(path_ + ": the zoo has no metadata '" + name + "'; it has: " +
                    (metadata_names_.empty() ? std::string("none") : join(metadata_names_)));
  const std::string where = path_ + ": /networks/metadata/" + name;
  h5::Handle d = h5::open_dataset(h_->file.get(), "networks/metadata/" + name, path_);
  MetadataColumn c;
  c.name = name;
  c.is_string = h5::is_string_dataset(d);
  if (c.is_string && !h5::is_variable_string_dataset(d))
    throw DataError(where + ": fixed-length strings; the format stores variable-length UTF-8 strings "
                            "(docs/zoo-format.md; h5py: h5py.string_dtype())");
  const auto n = static_cast<hsize_t>(num_networks_);
  if (c.is_string) c.strings = h5::read_strings(d, 0, n, where);
  else c.numbers = h5::read_vector<double>(d, 0, n, where);
  return c;
}

bool ZooFile::metadata_is_string(const std::string& name) const {
  if (std::find(metadata_names_.begin(), metadata_names_.end(), name) == metadata_names_.end())
    throw DataError(path_ + ": the zoo has no metadata '" + name + "'");
  return h5::is_string_dataset(h5::open_dataset(h_->file.get(), "networks/metadata/" + name, path_));
}

void hdf5_no_exit_cleanup() { h5::no_exit_cleanup(); }
bool hdf5_busy() { return h5::inside_library(); }
const char* hdf5_current_file() { return h5::current_where(); }
double hdf5_call_seconds() {
  const int64_t started = h5::call_started_ns();
  if (started == 0) return 0;
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch()).count();
  return static_cast<double>(now - started) * 1e-9;
}
const char* hdf5_last_file() { return h5::last_where(); }

std::vector<int64_t> ZooFile::split(const std::string& name) const {
  if (std::find(split_names_.begin(), split_names_.end(), name) == split_names_.end()) {
    const std::string hint = did_you_mean(name, split_names_);
    throw DataError(path_ + ": the zoo has no split '" + name + "'" +
                    (hint.empty() ? "" : " (did you mean '" + hint + "'?)") + "; it has: " +
                    (split_names_.empty() ? std::string("none") : join(split_names_)));
  }
  const std::string where = path_ + ": /splits/" + name;
  h5::Handle d = h5::open_dataset(h_->file.get(), "splits/" + name, path_);
  const auto dd = h5::dims(d, where);
  if (dd.size() != 1) throw DataError(where + ": expected a 1-D list of network indices");
  h5::check_declared_size(d, where);
  return h5::read_vector<int64_t>(d, 0, dd[0], where);
}

void ZooFile::read_rows(int arch, int64_t row0, int64_t count, float* out) const {
  const auto a = static_cast<std::size_t>(arch);
  h5::read_rows(h_->params.at(a), static_cast<hsize_t>(row0), static_cast<hsize_t>(count),
                static_cast<hsize_t>(archs_[a].num_params()), out,
                path_ + ": /architectures/" + archs_[a].name + "/params");
}

std::vector<float> ZooFile::network_params(int64_t index) const {
  if (index < 0 || index >= num_networks_)
    throw DataError(path_ + ": network " + std::to_string(index) + " does not exist (the zoo has " +
                    std::to_string(num_networks_) + " networks)");
  const auto i = static_cast<std::size_t>(index);
  const int arch = net_arch_[i];
  const int64_t row = net_row_[i];
  if (row < 0 || row >= arch_rows_[static_cast<std::size_t>(arch)])
    throw DataError(path_ + ": network " + std::to_string(index) + " points at row " + std::to_string(row) +
                    " of architecture '" + archs_[static_cast<std::size_t>(arch)].name + "', which has " +
                    std::to_string(arch_rows_[static_cast<std::size_t>(arch)]) + " rows");
  std::vector<float> out(static_cast<std::size_t>(archs_[static_cast<std::size_t>(arch)].num_params()));
  read_rows(arch, row, 1, out.data());
  return out;
}

}  // namespace sne::zoo
