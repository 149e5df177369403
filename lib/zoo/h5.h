#pragma once
// A thin RAII layer over the HDF5 C API, private to lib/zoo. Every call takes one process-wide lock: the HDF5
// library is global state and is not thread-safe in every build. Failures throw DataError/IoError whose
// message names the file and object and carries HDF5's own innermost reason.
#include <hdf5.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace sne::zoo::h5 {

/// The lock every HDF5 call holds.
std::recursive_mutex& library_mutex();

/// Turns off HDF5's own clean-up at exit (see h5.cpp). Call it before any other HDF5 function.
void no_exit_cleanup();
/// Whether this thread is inside an HDF5 call now.
bool inside_library();
/// What this thread reads inside HDF5 now ("FILE" or "FILE: /dataset"); async-signal-safe.
const char* current_where();
/// steady_clock nanoseconds at which the HDF5 call now running (on any thread) began; 0 when none runs.
int64_t call_started_ns();
/// What the last HDF5 call named (any thread); for a message only.
const char* last_where();

/// Owns an HDF5 identifier (file, group, dataset, dataspace, datatype, attribute, property list).
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  ~Handle() { reset(); }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();

 private:
  hid_t id_ = H5I_INVALID_HID;
};

/// Opens an existing file. Throws DataError for a missing, unreadable, non-HDF5 or truncated file.
Handle open_file(const std::string& path, bool writable);
/// Creates (truncating) a file. Throws IoError when it cannot be written.
Handle create_file(const std::string& path);
void flush(const Handle& file);

/// True when the link `path` (relative to `loc`, nested with '/') exists.
bool exists(hid_t loc, const std::string& path);
Handle open_group(hid_t loc, const std::string& path, const std::string& where);
Handle create_group(hid_t loc, const std::string& path, const std::string& where);
/// `chunk_cache = false` reads chunks straight into the caller's buffer: right for datasets read in whole
/// chunks (the params rows), where the cache only adds a copy.
Handle open_dataset(hid_t loc, const std::string& path, const std::string& where, bool chunk_cache = true);
/// Removes a link (dataset or group) when it exists.
void remove(hid_t loc, const std::string& path, const std::string& where);
/// Names of the links directly inside a group, in name order.
std::vector<std::string> list_group(hid_t group, const std::string& where);

std::vector<hsize_t> dims(const Handle& dataset, const std::string& where);
/// Chunk shape of a chunked dataset (empty when contiguous).
std::vector<hsize_t> chunk_dims(const Handle& dataset);
bool is_string_dataset(const Handle& dataset);
/// A string dataset of variable-length strings (the format's kind); false for fixed-length strings.
bool is_variable_string_dataset(const Handle& dataset);
bool is_float_dataset(const Handle& dataset);
/// DataError naming `where` when the dataset declares far more data than the file stores for it: more than
/// kMaxCompression times its stored bytes, plus 1 MiB (a damaged or hostile header: 10^9 entries in a 1 MB
/// file). Every reader of whole datasets calls it before allocating for them.
void check_declared_size(const Handle& dataset, const std::string& where);
inline constexpr double kMaxCompression = 1100;  ///< above deflate's limit of about 1032 : 1

bool has_attr(hid_t loc, const std::string& name);
std::string read_attr_string(hid_t loc, const std::string& name, const std::string& where);
int64_t read_attr_int(hid_t loc, const std::string& name, const std::string& where);
void write_attr_string(hid_t loc, const std::string& name, const std::string& value, const std::string& where);
void write_attr_int(hid_t loc, const std::string& name, int64_t value, const std::string& where);

/// Element types the zoo uses.
template <class T> hid_t native_type();

/// Creates an extendable 1-D dataset (chunks of 4096 entries) or an extendable float32 row matrix.
Handle create_vector(hid_t loc, const std::string& name, hid_t native, const std::string& where);
Handle create_string_vector(hid_t loc, const std::string& name, const std::string& where);
Handle create_rows(hid_t loc, const std::string& name, hsize_t cols, hsize_t chunk_rows, int gzip_level,
                   const std::string& where);

/// Reads `count` entries from `begin` of a 1-D dataset, converting to T.
template <class T>
std::vector<T> read_vector(const Handle& dataset, hsize_t begin, hsize_t count, const std::string& where);
std::vector<std::string> read_strings(const Handle& dataset, hsize_t begin, hsize_t count, const std::string& where);
/// Appends to a 1-D dataset (extending it).
template <class T>
void append_vector(const Handle& dataset, const std::vector<T>& values, const std::string& where);
void append_strings(const Handle& dataset, const std::vector<std::string>& values, const std::string& where);
/// Overwrites entries [begin, begin+values.size()) of a 1-D dataset (which must be long enough).
template <class T>
void write_vector_at(const Handle& dataset, hsize_t begin, const std::vector<T>& values, const std::string& where);
/// Sets the length of a 1-D or row dataset; new entries take the fill value.
void resize(const Handle& dataset, hsize_t rows, const std::string& where);

/// Reads rows [row0, row0+nrows) of a float32 row matrix into `out` (nrows * cols floats).
void read_rows(const Handle& dataset, hsize_t row0, hsize_t nrows, hsize_t cols, float* out, const std::string& where);
/// Appends `nrows` rows of `cols` floats.
void append_rows(const Handle& dataset, const float* data, hsize_t nrows, hsize_t cols, const std::string& where);

}  // namespace sne::zoo::h5
