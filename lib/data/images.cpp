#include "data/images.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/strings.h"

namespace sne::data {
namespace {

std::string describe_count(int64_t n) { return std::to_string(n); }

std::string dims_text(const std::vector<int64_t>& dims) {
  std::vector<std::string> parts;
  for (auto d : dims) parts.push_back(std::to_string(d));
  return join(parts, "x");
}

}  // namespace

std::vector<uint8_t> read_maybe_gzip(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw DataError(path + ": cannot open (missing or unreadable)");
  std::vector<uint8_t> raw;
  uint8_t buf[1 << 16];
  std::size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) raw.insert(raw.end(), buf, buf + got);
  const bool read_error = std::ferror(f) != 0;
  std::fclose(f);
  if (read_error) throw DataError(path + ": read error");
  if (raw.size() < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return raw;

  // gzip: inflate with the gzip wrapper (windowBits 16 + MAX_WBITS), concatenated members allowed.
  std::vector<uint8_t> out;
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw DataError(path + ": cannot initialise gzip decoder");
  zs.next_in = raw.data();
  zs.avail_in = static_cast<uInt>(raw.size());
  int rc = Z_OK;
  while (true) {
    zs.next_out = buf;
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.insert(out.end(), buf, buf + (sizeof buf - zs.avail_out));
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      inflateReset(&zs);  // another gzip member follows
      continue;
    }
    if (rc != Z_OK) break;
    if (zs.avail_in == 0 && zs.avail_out != 0) { rc = Z_BUF_ERROR; break; }
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END)
    throw DataError(path + ": corrupt or truncated gzip data (" + (zs.msg ? zs.msg : "stream ended early") + ")");
  return out;
}

std::vector<int64_t> decode_idx(const std::vector<uint8_t>& bytes, const std::string& path, std::vector<uint8_t>& data) {
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0)
    throw DataError(path + ": not an IDX file (expected the magic bytes 00 00 08 NDIM)");
  if (bytes[2] != 0x08)
    throw DataError(path + ": IDX element type 0x" + std::to_string(bytes[2]) + " is not supported (expected 0x08, unsigned byte)");
  const int ndim = bytes[3];
  if (ndim < 1 || ndim > 4) throw DataError(path + ": IDX with " + std::to_string(ndim) + " dimensions (expected 1 to 4)");
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(ndim);
  if (bytes.size() < header) throw DataError(path + ": truncated IDX header");
  std::vector<int64_t> dims;
  int64_t total = 1;
  for (int d = 0; d < ndim; ++d) {
    const uint8_t* p = bytes.data() + 4 + 4 * d;
    const int64_t v = (int64_t(p[0]) << 24) | (int64_t(p[1]) << 16) | (int64_t(p[2]) << 8) | int64_t(p[3]);
    if (v <= 0 || v > (int64_t(1) << 31)) throw DataError(path + ": IDX dimension " + std::to_string(d) + " is " + std::to_string(v));
    dims.push_back(v);
    total *= v;
  }
  const auto have = static_cast<int64_t>(bytes.size() - header);
  if (have != total)
    throw DataError(path + ": IDX data holds " + std::to_string(have) + " bytes but its dimensions " + dims_text(dims) +
                    " need " + std::to_string(total) + (have < total ? " (truncated file)" : " (trailing bytes)"));
  data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return dims;
}

ImageSet read_idx(const std::string& images_path, const std::string& labels_path) {
  std::vector<uint8_t> pixels, labels;
  const auto idims = decode_idx(read_maybe_gzip(images_path), images_path, pixels);
  const auto ldims = decode_idx(read_maybe_gzip(labels_path), labels_path, labels);
  if (idims.size() != 3 && idims.size() != 4)
    throw DataError(images_path + ": IDX images must have 3 (n, h, w) or 4 (n, h, w, c) dimensions, found " +
                    std::to_string(idims.size()));
  if (ldims.size() != 1) throw DataError(labels_path + ": IDX labels must have 1 dimension, found " + std::to_string(ldims.size()));
  if (ldims[0] != idims[0])
    throw DataError(images_path + " holds " + describe_count(idims[0]) + " images but " + labels_path + " holds " +
                    describe_count(ldims[0]) + " labels");
  ImageSet s;
  s.count = idims[0];
  s.height = idims[1];
  s.width = idims[2];
  s.channels = idims.size() == 4 ? idims[3] : 1;
  if (s.channels != 1 && s.channels != 3)
    throw DataError(images_path + ": " + std::to_string(s.channels) + " channels (expected 1 or 3)");
  if (s.channels == 1) {
    s.pixels = std::move(pixels);
  } else {  // HWC -> CHW
    s.pixels.resize(pixels.size());
    const int64_t hw = s.height * s.width;
    for (int64_t i = 0; i < s.count; ++i)
      for (int64_t p = 0; p < hw; ++p)
        for (int64_t c = 0; c < s.channels; ++c)
          s.pixels[static_cast<std::size_t>((i * s.channels + c) * hw + p)] =
              pixels[static_cast<std::size_t>((i * hw + p) * s.channels + c)];
  }
  s.labels.resize(static_cast<std::size_t>(s.count));
  for (int64_t i = 0; i < s.count; ++i) {
    const int64_t y = labels[static_cast<std::size_t>(i)];
    if (y > 9) throw DataError(labels_path + ": label " + std::to_string(y) + " at index " + std::to_string(i) + " (expected 0..9)");
    s.labels[static_cast<std::size_t>(i)] = y;
  }
  return s;
}

ImageSet read_cifar10(const std::vector<std::string>& batch_paths) {
  constexpr int64_t kRecord = 1 + 3 * 32 * 32;
  ImageSet s;
  s.channels = 3, s.height = 32, s.width = 32;
  for (const auto& path : batch_paths) {
    const auto bytes = read_maybe_gzip(path);
    if (bytes.empty() || bytes.size() % kRecord != 0)
      throw DataError(path + ": " + std::to_string(bytes.size()) + " bytes is not a whole number of CIFAR-10 records (" +
                      std::to_string(kRecord) + " bytes each: 1 label + 3x32x32 pixels); truncated or not a CIFAR-10 binary batch");
    const auto n = static_cast<int64_t>(bytes.size()) / kRecord;
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* r = bytes.data() + i * kRecord;
      if (r[0] > 9) throw DataError(path + ": record " + std::to_string(i) + " has label " + std::to_string(r[0]) + " (expected 0..9)");
      s.labels.push_back(r[0]);
      s.pixels.insert(s.pixels.end(), r + 1, r + kRecord);
    }
    s.count += n;
  }
  return s;
}

ImageSet to_grayscale(const ImageSet& in) {
  if (in.channels == 1) return in;
  if (in.channels != 3) throw DataError("grayscale conversion needs 1 or 3 channels, found " + std::to_string(in.channels));
  ImageSet s = in;
  s.channels = 1;
  const int64_t hw = in.height * in.width;
  s.pixels.assign(static_cast<std::size_t>(in.count * hw), 0);
  for (int64_t i = 0; i < in.count; ++i) {
    const uint8_t* src = in.pixels.data() + i * 3 * hw;
    for (int64_t p = 0; p < hw; ++p) {
      const double y = 0.299 * src[p] + 0.587 * src[hw + p] + 0.114 * src[2 * hw + p];
      s.pixels[static_cast<std::size_t>(i * hw + p)] = static_cast<uint8_t>(std::min(255.0, std::round(y)));
    }
  }
  return s;
}

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names = {"fashion-mnist", "mnist", "mnist-subset", "cifar10", "svhn"};
  return names;
}

std::string default_dataset_dir(const std::string& name) {
  if (name == "fashion-mnist") return "/usr/share/datasets/fashion-mnist";
  if (name == "mnist-subset") return "data/mnist-subset";
  return "data/" + name;
}

namespace {

// The first existing file among `dir/stem` + the IDX suffixes, e.g. train-images-idx3-ubyte.gz.
std::string find_idx(const std::string& dir, const std::string& stem, const std::vector<std::string>& ndims) {
  namespace fs = std::filesystem;
  std::vector<std::string> tried;
  for (const auto& nd : ndims)
    for (const char* ext : {".gz", ""}) {
      const std::string p = (fs::path(dir) / (stem + "-idx" + nd + "-ubyte" + ext)).string();
      std::error_code ec;
      if (fs::exists(p, ec)) return p;
      tried.push_back(fs::path(p).filename().string());
    }
  throw DataError(dir + ": none of " + join(tried) + " exists");
}

}  // namespace

Dataset load_dataset(const std::string& name, const std::string& dir_in, bool grayscale) {
  const auto& names = dataset_names();
  if (std::find(names.begin(), names.end(), name) == names.end())
    {
    const std::string guess = did_you_mean(name, names);
    throw ConfigError("unknown dataset '" + name + "'" + (guess.empty() ? "" : " (did you mean '" + guess + "'?)") +
                      "; known: " + join(names));
  }
  Dataset d;
  d.name = name;
  d.dir = dir_in.empty() ? default_dataset_dir(name) : dir_in;
  std::error_code ec;
  if (!std::filesystem::is_directory(d.dir, ec))
    throw DataError(d.dir + ": dataset folder for '" + name + "' does not exist" +
                    (name == "fashion-mnist" ? " (Debian: apt-get install dataset-fashion-mnist)"
                     : name == "mnist-subset" ? " (run scripts/fetch-mnist-subset.sh)"
                     : name == "svhn"         ? " (convert the .mat files with data-scripts/convert_svhn.py)"
                                              : ""));
  if (name == "cifar10") {
    std::vector<std::string> train;
    for (int i = 1; i <= 5; ++i) train.push_back((std::filesystem::path(d.dir) / ("data_batch_" + std::to_string(i) + ".bin")).string());
    d.train = read_cifar10(train);
    d.test = read_cifar10({(std::filesystem::path(d.dir) / "test_batch.bin").string()});
  } else {
    for (auto [stem, set] : {std::pair{"train", &d.train}, std::pair{"t10k", &d.test}}) {
      const std::string images = find_idx(d.dir, std::string(stem) + "-images", {"3", "4"});
      const std::string labels = find_idx(d.dir, std::string(stem) + "-labels", {"1"});
      *set = read_idx(images, labels);
    }
  }
  if (d.train.channels != d.test.channels || d.train.height != d.test.height || d.train.width != d.test.width)
    throw DataError(d.dir + ": training images are " + std::to_string(d.train.channels) + "x" + std::to_string(d.train.height) +
                    "x" + std::to_string(d.train.width) + " but test images are " + std::to_string(d.test.channels) + "x" +
                    std::to_string(d.test.height) + "x" + std::to_string(d.test.width));
  if (grayscale) {
    d.train = to_grayscale(d.train);
    d.test = to_grayscale(d.test);
  }
  return d;
}

}  // namespace sne::data
