#include "zoo/h5.h"

#include <cstdio>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/error.h"

namespace sne::zoo::h5 {
namespace {

// Which file this thread is reading inside the HDF5 library (for a crash handler's message: apps/sne/signals.cpp).
thread_local int t_depth = 0;
thread_local char t_where[512] = "";

// For a watchdog on another thread (apps/sne/signals.cpp): when the call now inside the library began (0: none;
// one thread at a time is inside, under the lock) and what was last named in it.
std::atomic<int64_t> g_entered_ns{0};
char g_where[512] = "";

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The library lock; while it is held this thread is "inside HDF5".
struct Lock {
  std::lock_guard<std::recursive_mutex> guard;
  explicit Lock(std::recursive_mutex& m) : guard(m) {
    if (t_depth++ == 0) g_entered_ns.store(now_ns());
  }
  ~Lock() {
    if (--t_depth == 0) g_entered_ns.store(0);
  }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;
};

// Records `where` (a file, or "FILE: /dataset") as what this thread is reading.
void note(const std::string& where) {
  const std::size_t n = std::min(where.size(), sizeof t_where - 1);
  std::memcpy(t_where, where.data(), n);
  t_where[n] = '\0';
  std::memcpy(g_where, t_where, n + 1);
}


// Silences HDF5's automatic stack printing for the calling thread (the setting is per thread).
void quiet() {
  thread_local bool done = false;
  if (!done) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    done = true;
  }
}

herr_t take_first(unsigned n, const H5E_error2_t* err, void* out) {
  auto* s = static_cast<std::string*>(out);
  if (n == 0 && err->desc) *s = err->desc;
  return 0;
}

// HDF5's innermost description of the error just raised, then clears the stack.
std::string reason() {
  std::string s;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_first, &s);
  H5Eclear2(H5E_DEFAULT);
  if (s.empty()) return "HDF5 error";
  // A failed write is described as "file write failed: time = ..., errno = 28, error message = 'No space left on
  // device', buf = ..." over two lines: keep the operating system's message.
  const std::size_t m = s.find("error message = '");
  if (m != std::string::npos) {
    const std::size_t b = m + 17, e = s.find('\'', b);
    std::string os = s.substr(b, e == std::string::npos ? std::string::npos : e - b);
    if (s.find("errno = 28") != std::string::npos) os += "; is the disk full?";
    return (s.rfind("file write failed", 0) == 0 ? "write failed: " : "") + os;
  }
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw DataError(where + ": " + what + " (" + reason() + ")");
}

template <class T>
T check(T id, const std::string& where, const std::string& what) {
  if (id < 0) fail(where, what);
  return id;
}

Handle space_1d(hsize_t n) { return Handle(H5Screate_simple(1, &n, nullptr)); }

// The dataset's file space with entries [begin, begin + count) of a 1-D dataset selected.
Handle select_entries(const Handle& dataset, hsize_t begin, hsize_t count) {
  Handle space(H5Dget_space(dataset.get()));
  H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, &begin, nullptr, &count, nullptr);
  return space;
}

// The dataset's file space with rows [row0, row0 + nrows) of a row matrix selected.
Handle select_rows(const Handle& dataset, hsize_t row0, hsize_t nrows, hsize_t cols) {
  Handle space(H5Dget_space(dataset.get()));
  const hsize_t start[2] = {row0, 0}, count[2] = {nrows, cols};
  H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr);
  return space;
}

Handle string_type() {
  Handle t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  return t;
}

// Reads a (possibly variable-length) string attribute or dataset element type into std::string.
std::string read_string_attr(hid_t attr, const std::string& where) {
  Handle type(H5Aget_type(attr));
  if (H5Tget_class(type.get()) != H5T_STRING) throw DataError(where + ": expected a string attribute");
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle mem = string_type();
    char* buf = nullptr;
    check(H5Aread(attr, mem.get(), &buf), where, "cannot read string attribute");
    std::string s = buf ? buf : "";
    H5free_memory(buf);
    return s;
  }
  const std::size_t n = H5Tget_size(type.get());
  std::string s(n, '\0');
  Handle mem(H5Tcopy(H5T_C_S1));
  H5Tset_size(mem.get(), n);
  check(H5Aread(attr, mem.get(), s.data()), where, "cannot read string attribute");
  s.resize(std::strlen(s.c_str()));
  return s;
}

}  // namespace

void no_exit_cleanup() {
  // After a failed write (a full disk) the library keeps identifiers it could not close, and its own clean-up at
  // exit closed them again and crashed in H5D_close. Every file sne writes is closed explicitly instead.
  H5dont_atexit();
}

bool inside_library() { return t_depth > 0; }

const char* current_where() { return t_where; }

int64_t call_started_ns() { return g_entered_ns.load(); }
const char* last_where() { return g_where; }

std::recursive_mutex& library_mutex() {
  static std::recursive_mutex m;
  return m;
}

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::reset() {
  if (id_ < 0) return;
  Lock lock(library_mutex());
  quiet();
  H5Idec_ref(id_);
  id_ = H5I_INVALID_HID;
}

template <> hid_t native_type<float>() { return H5T_NATIVE_FLOAT; }
template <> hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }
template <> hid_t native_type<int32_t>() { return H5T_NATIVE_INT32; }
template <> hid_t native_type<int64_t>() { return H5T_NATIVE_INT64; }

Handle open_file(const std::string& path, bool writable) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw DataError(path + ": no such file");
  if (fs::is_directory(path, ec)) throw DataError(path + ": is a directory, expected an HDF5 zoo file");
  // A FIFO or device would block the open below forever (and signals with it): only regular files are read.
  if (!fs::is_regular_file(path, ec))
    throw DataError(path + ": not a regular file (a FIFO, socket or device?), expected an HDF5 file");
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw DataError(path + ": cannot open (" + std::strerror(errno) + ")");
  }
  note(path);  // before the lock: a watchdog that fires in the very first call names the file too
  Lock lock(library_mutex());
  quiet();
  const htri_t is_h5 = H5Fis_hdf5(path.c_str());
  if (is_h5 == 0) {
    H5Eclear2(H5E_DEFAULT);
    throw DataError(path + ": not an HDF5 file");
  }
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  const hid_t id = H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl.get());
  if (id < 0) {
    const std::string why = reason();
    if (why.find("truncated") != std::string::npos)
      throw DataError(path + ": the HDF5 file is truncated (" + why + ")");
    throw DataError(path + ": cannot open HDF5 file (" + why + ")");
  }
  return Handle(id);
}

Handle create_file(const std::string& path) {
  Lock lock(library_mutex());
  quiet();
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS));
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  // The 1.8 file format keeps the file readable by older HDF5 (and h5py) builds.
  H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_EARLIEST, H5F_LIBVER_LATEST);
  const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
  if (id < 0) throw IoError(path + ": cannot create file (" + reason() + ")");
  return Handle(id);
}

void flush(const Handle& file) {
  Lock lock(library_mutex());
  quiet();
  if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) {
    const std::string why = reason();
    char name[1024] = "";
    if (H5Fget_name(file.get(), name, sizeof name) < 0) H5Eclear2(H5E_DEFAULT);
    throw IoError(std::string(name[0] ? name : "an HDF5 file") + ": cannot write (" + why + ")");
  }
}

bool exists(hid_t loc, const std::string& path) {
  Lock lock(library_mutex());
  quiet();
  std::string prefix;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t slash = path.find('/', start);
    prefix = path.substr(0, slash == std::string::npos ? path.size() : slash);
    if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return true;
}

Handle open_group(hid_t loc, const std::string& path, const std::string& where) {
  if (!exists(loc, path)) throw DataError(where + ": missing group '" + path + "'");
  Lock lock(library_mutex());
  quiet();
  return Handle(check(H5Gopen2(loc, path.c_str(), H5P_DEFAULT), where, "cannot open group '" + path + "'"));
}

Handle create_group(hid_t loc, const std::string& path, const std::string& where) {
  Lock lock(library_mutex());
  quiet();
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  return Handle(check(H5Gcreate2(loc, path.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT), where,
                      "cannot create group '" + path + "'"));
}

Handle open_dataset(hid_t loc, const std::string& path, const std::string& where, bool chunk_cache) {
  if (!exists(loc, path)) throw DataError(where + ": missing dataset '" + path + "'");
  Lock lock(library_mutex());
  quiet();
  Handle dapl(H5Pcreate(H5P_DATASET_ACCESS));
  if (!chunk_cache) H5Pset_chunk_cache(dapl.get(), 0, 0, 1.0);
  return Handle(check(H5Dopen2(loc, path.c_str(), dapl.get()), where, "cannot open dataset '" + path + "'"));
}

void remove(hid_t loc, const std::string& path, const std::string& where) {
  if (!exists(loc, path)) return;
  Lock lock(library_mutex());
  quiet();
  if (H5Ldelete(loc, path.c_str(), H5P_DEFAULT) < 0)
    throw IoError(where + ": cannot remove '" + path + "' (" + reason() + ")");
}

std::vector<std::string> list_group(hid_t group, const std::string& where) {
  Lock lock(library_mutex());
  quiet();
  H5G_info_t info;
  check(H5Gget_info(group, &info), where, "cannot list group");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t n = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    check(n, where, "cannot list group");
    std::string name(static_cast<std::size_t>(n) + 1, '\0');
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(static_cast<std::size_t>(n));
    names.push_back(name);
  }
  return names;
}

std::vector<hsize_t> dims(const Handle& dataset, const std::string& where) {
  Lock lock(library_mutex());
  quiet();
  Handle space(check(H5Dget_space(dataset.get()), where, "cannot read dataspace"));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  check(rank, where, "cannot read dataspace");
  std::vector<hsize_t> d(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), d.data(), nullptr);
  return d;
}

std::vector<hsize_t> chunk_dims(const Handle& dataset) {
  Lock lock(library_mutex());
  quiet();
  Handle dcpl(H5Dget_create_plist(dataset.get()));
  if (H5Pget_layout(dcpl.get()) != H5D_CHUNKED) return {};
  hsize_t d[8];
  const int rank = H5Pget_chunk(dcpl.get(), 8, d);
  if (rank < 0) return {};
  return std::vector<hsize_t>(d, d + rank);
}

bool is_string_dataset(const Handle& dataset) {
  Lock lock(library_mutex());
  Handle type(H5Dget_type(dataset.get()));
  return H5Tget_class(type.get()) == H5T_STRING;
}

bool is_variable_string_dataset(const Handle& dataset) {
  Lock lock(library_mutex());
  Handle type(H5Dget_type(dataset.get()));
  return H5Tget_class(type.get()) == H5T_STRING && H5Tis_variable_str(type.get()) > 0;
}

void check_declared_size(const Handle& dataset, const std::string& where) {
  Lock lock(library_mutex());
  quiet();
  Handle space(check(H5Dget_space(dataset.get()), where, "cannot read dataspace"));
  Handle type(check(H5Dget_type(dataset.get()), where, "cannot read the element type"));
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  const std::size_t element = H5Tget_size(type.get());
  if (points < 0 || element == 0) throw DataError(where + ": cannot read the dataset's size");
  const double declared = static_cast<double>(points) * static_cast<double>(element);
  const double stored = static_cast<double>(H5Dget_storage_size(dataset.get()));
  if (declared <= stored * kMaxCompression + double(1 << 20)) return;
  const auto mb = [](double b) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.4g MB", b / 1e6);
    return std::string(buf);
  };
  throw DataError(where + ": declares " + std::to_string(points) + " entries (" + mb(declared) +
                  ") but the file stores " + mb(stored) + " for it; the header is damaged or the file was not "
                  "written by a zoo writer (sne, data-scripts/sne_zoo.py)");
}

bool is_float_dataset(const Handle& dataset) {
  Lock lock(library_mutex());
  Handle type(H5Dget_type(dataset.get()));
  return H5Tget_class(type.get()) == H5T_FLOAT;
}

bool has_attr(hid_t loc, const std::string& name) {
  Lock lock(library_mutex());
  quiet();
  const htri_t r = H5Aexists(loc, name.c_str());
  if (r < 0) H5Eclear2(H5E_DEFAULT);
  return r > 0;
}

std::string read_attr_string(hid_t loc, const std::string& name, const std::string& where) {
  if (!has_attr(loc, name)) throw DataError(where + ": missing attribute '" + name + "'");
  Lock lock(library_mutex());
  quiet();
  Handle attr(check(H5Aopen(loc, name.c_str(), H5P_DEFAULT), where, "cannot open attribute '" + name + "'"));
  return read_string_attr(attr.get(), where + ": attribute '" + name + "'");
}

int64_t read_attr_int(hid_t loc, const std::string& name, const std::string& where) {
  if (!has_attr(loc, name)) throw DataError(where + ": missing attribute '" + name + "'");
  Lock lock(library_mutex());
  quiet();
  Handle attr(check(H5Aopen(loc, name.c_str(), H5P_DEFAULT), where, "cannot open attribute '" + name + "'"));
  Handle type(H5Aget_type(attr.get()));
  if (H5Tget_class(type.get()) != H5T_INTEGER)
    throw DataError(where + ": attribute '" + name + "' should be an integer");
  int64_t v = 0;
  check(H5Aread(attr.get(), H5T_NATIVE_INT64, &v), where, "cannot read attribute '" + name + "'");
  return v;
}

void write_attr_string(hid_t loc, const std::string& name, const std::string& value, const std::string& where) {
  Lock lock(library_mutex());
  quiet();
  if (H5Aexists(loc, name.c_str()) > 0) H5Adelete(loc, name.c_str());
  Handle type = string_type();
  Handle space(H5Screate(H5S_SCALAR));
  Handle attr(H5Acreate2(loc, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attr.valid()) throw IoError(where + ": cannot write attribute '" + name + "' (" + reason() + ")");
  const char* p = value.c_str();
  if (H5Awrite(attr.get(), type.get(), &p) < 0)
    throw IoError(where + ": cannot write attribute '" + name + "' (" + reason() + ")");
}

void write_attr_int(hid_t loc, const std::string& name, int64_t value, const std::string& where) {
  Lock lock(library_mutex());
  quiet();
  if (H5Aexists(loc, name.c_str()) > 0) H5Adelete(loc, name.c_str());
  Handle space(H5Screate(H5S_SCALAR));
  Handle attr(H5Acreate2(loc, name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attr.valid() || H5Awrite(attr.get(), H5T_NATIVE_INT64, &value) < 0)
    throw IoError(where + ": cannot write attribute '" + name + "' (" + reason() + ")");
}

namespace {
Handle create_extendable(hid_t loc, const std::string& name, hid_t type, int rank, const hsize_t* chunk,
                         hsize_t cols, int gzip_level, const void* fill, const std::string& where) {
  hsize_t cur[2] = {0, cols};
  hsize_t max[2] = {H5S_UNLIMITED, cols};
  Handle space(H5Screate_simple(rank, cur, max));
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_chunk(dcpl.get(), rank, chunk);
  if (fill) H5Pset_fill_value(dcpl.get(), type, fill);
  if (gzip_level > 0) {
    H5Pset_shuffle(dcpl.get());
    H5Pset_deflate(dcpl.get(), static_cast<unsigned>(gzip_level));
  }
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  const hid_t id = H5Dcreate2(loc, name.c_str(), type, space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT);
  if (id < 0) throw IoError(where + ": cannot create dataset '" + name + "' (" + reason() + ")");
  return Handle(id);
}
}  // namespace

Handle create_vector(hid_t loc, const std::string& name, hid_t native, const std::string& where) {
  Lock lock(library_mutex());
  quiet();
  const hsize_t chunk[1] = {4096};
  hid_t file_type = native;
  if (H5Tequal(native, H5T_NATIVE_FLOAT) > 0) file_type = H5T_IEEE_F32LE;
  else if (H5Tequal(native, H5T_NATIVE_DOUBLE) > 0) file_type = H5T_IEEE_F64LE;
  else if (H5Tequal(native, H5T_NATIVE_INT32) > 0) file_type = H5T_STD_I32LE;
  else if (H5Tequal(native, H5T_NATIVE_INT64) > 0) file_type = H5T_STD_I64LE;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const float nanf = std::numeric_limits<float>::quiet_NaN();
  const void* fill = file_type == H5T_IEEE_F64LE ? static_cast<const void*>(&nan)
                     : file_type == H5T_IEEE_F32LE ? static_cast<const void*>(&nanf) : nullptr;
  // Fill values are given in the file type here; both float types are little-endian native on our targets.
  return create_extendable(loc, name, file_type, 1, chunk, 0, 0, fill, where);
}

Handle create_string_vector(hid_t loc, const std::string& name, const std::string& where) {
  Lock lock(library_mutex());
  quiet();
  const hsize_t chunk[1] = {4096};
  Handle type = string_type();
  return create_extendable(loc, name, type.get(), 1, chunk, 0, 0, nullptr, where);
}

Handle create_rows(hid_t loc, const std::string& name, hsize_t cols, hsize_t chunk_rows, int gzip_level,
                   const std::string& where) {
  Lock lock(library_mutex());
  quiet();
  const hsize_t chunk[2] = {chunk_rows, cols};
  return create_extendable(loc, name, H5T_IEEE_F32LE, 2, chunk, cols, gzip_level, nullptr, where);
}

template <class T>
std::vector<T> read_vector(const Handle& dataset, hsize_t begin, hsize_t count, const std::string& where) {
  std::vector<T> out(count);
  if (count == 0) return out;
  Lock lock(library_mutex());
  quiet();
  note(where);
  Handle file_space = select_entries(dataset, begin, count);
  Handle mem = space_1d(count);
  check(H5Dread(dataset.get(), native_type<T>(), mem.get(), file_space.get(), H5P_DEFAULT, out.data()), where,
        "cannot read entries " + std::to_string(begin) + ".." + std::to_string(begin + count));
  return out;
}
template std::vector<float> read_vector<float>(const Handle&, hsize_t, hsize_t, const std::string&);
template std::vector<double> read_vector<double>(const Handle&, hsize_t, hsize_t, const std::string&);
template std::vector<int32_t> read_vector<int32_t>(const Handle&, hsize_t, hsize_t, const std::string&);
template std::vector<int64_t> read_vector<int64_t>(const Handle&, hsize_t, hsize_t, const std::string&);

std::vector<std::string> read_strings(const Handle& dataset, hsize_t begin, hsize_t count, const std::string& where) {
  std::vector<std::string> out(count);
  if (count == 0) return out;
  Lock lock(library_mutex());
  quiet();
  note(where);
  Handle file_space = select_entries(dataset, begin, count);
  Handle mem = space_1d(count);
  Handle type = string_type();
  std::vector<char*> raw(count, nullptr);
  check(H5Dread(dataset.get(), type.get(), mem.get(), file_space.get(), H5P_DEFAULT, raw.data()), where,
        "cannot read strings");
  for (hsize_t i = 0; i < count; ++i) out[i] = raw[i] ? raw[i] : "";
  H5Dvlen_reclaim(type.get(), mem.get(), H5P_DEFAULT, raw.data());
  return out;
}

void resize(const Handle& dataset, hsize_t rows, const std::string& where) {
  std::vector<hsize_t> d = dims(dataset, where);
  Lock lock(library_mutex());
  quiet();
  d[0] = rows;
  if (H5Dset_extent(dataset.get(), d.data()) < 0) throw IoError(where + ": cannot extend dataset (" + reason() + ")");
}

namespace {
void write_1d(const Handle& dataset, hid_t mem_type, hsize_t begin, hsize_t count, const void* data,
              const std::string& where) {
  Lock lock(library_mutex());
  quiet();
  Handle file_space = select_entries(dataset, begin, count);
  Handle mem = space_1d(count);
  if (H5Dwrite(dataset.get(), mem_type, mem.get(), file_space.get(), H5P_DEFAULT, data) < 0)
    throw IoError(where + ": cannot write (" + reason() + ")");
}
}  // namespace

template <class T>
void write_vector_at(const Handle& dataset, hsize_t begin, const std::vector<T>& values, const std::string& where) {
  if (values.empty()) return;
  write_1d(dataset, native_type<T>(), begin, values.size(), values.data(), where);
}
template void write_vector_at<double>(const Handle&, hsize_t, const std::vector<double>&, const std::string&);
template void write_vector_at<int32_t>(const Handle&, hsize_t, const std::vector<int32_t>&, const std::string&);
template void write_vector_at<int64_t>(const Handle&, hsize_t, const std::vector<int64_t>&, const std::string&);

template <class T>
void append_vector(const Handle& dataset, const std::vector<T>& values, const std::string& where) {
  if (values.empty()) return;
  const hsize_t n = dims(dataset, where)[0];
  resize(dataset, n + values.size(), where);
  write_vector_at(dataset, n, values, where);
}
template void append_vector<double>(const Handle&, const std::vector<double>&, const std::string&);
template void append_vector<int32_t>(const Handle&, const std::vector<int32_t>&, const std::string&);
template void append_vector<int64_t>(const Handle&, const std::vector<int64_t>&, const std::string&);

void append_strings(const Handle& dataset, const std::vector<std::string>& values, const std::string& where) {
  if (values.empty()) return;
  const hsize_t n = dims(dataset, where)[0];
  resize(dataset, n + values.size(), where);
  std::vector<const char*> ptrs;
  for (const auto& s : values) ptrs.push_back(s.c_str());
  Handle type = string_type();
  write_1d(dataset, type.get(), n, values.size(), ptrs.data(), where);
}

void read_rows(const Handle& dataset, hsize_t row0, hsize_t nrows, hsize_t cols, float* out, const std::string& where) {
  if (nrows == 0) return;
  Lock lock(library_mutex());
  quiet();
  note(where);
  Handle file_space = select_rows(dataset, row0, nrows, cols);
  const hsize_t count[2] = {nrows, cols};
  Handle mem(H5Screate_simple(2, count, nullptr));
  check(H5Dread(dataset.get(), H5T_NATIVE_FLOAT, mem.get(), file_space.get(), H5P_DEFAULT, out), where,
        "cannot read rows " + std::to_string(row0) + ".." + std::to_string(row0 + nrows));
}

void append_rows(const Handle& dataset, const float* data, hsize_t nrows, hsize_t cols, const std::string& where) {
  if (nrows == 0) return;
  const hsize_t n = dims(dataset, where)[0];
  resize(dataset, n + nrows, where);
  Lock lock(library_mutex());
  quiet();
  Handle file_space = select_rows(dataset, n, nrows, cols);
  const hsize_t count[2] = {nrows, cols};
  Handle mem(H5Screate_simple(2, count, nullptr));
  if (H5Dwrite(dataset.get(), H5T_NATIVE_FLOAT, mem.get(), file_space.get(), H5P_DEFAULT, data) < 0)
    throw IoError(where + ": cannot write rows (" + reason() + ")");
}

}  // namespace sne::zoo::h5
