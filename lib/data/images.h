#pragma once
// Image classification datasets for the CNN zoo generator: MNIST-style IDX files (gzipped or not) and CIFAR-10
// binary batches, read into one uint8 layout (n, channels, height, width) with labels 0..classes-1.
// Every malformed input throws DataError naming the file and what was expected.
#include <cstdint>
#include <string>
#include <vector>

namespace sne::data {

struct ImageSet {
  int64_t count = 0, channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;  ///< count * channels * height * width, channel-major per image (CHW)
  std::vector<int64_t> labels;  ///< count entries
  int64_t image_size() const { return channels * height * width; }
};

/// A dataset's training and test sets.
struct Dataset {
  std::string name;  ///< as requested ("fashion-mnist", ...)
  std::string dir;   ///< where it was read from
  ImageSet train, test;
  int64_t classes = 10;
};

/// Reads a whole file, gunzipping it when it starts with the gzip magic. Throws DataError when unreadable or
/// when the gzip stream is corrupt or truncated.
std::vector<uint8_t> read_maybe_gzip(const std::string& path);

/// Decodes an IDX ubyte array (magic 0x0000 08 NDIM, big-endian int32 dims, row-major data). Returns the dims;
/// throws DataError naming `path` for a wrong magic, a non-ubyte type, or a size that does not match the dims.
std::vector<int64_t> decode_idx(const std::vector<uint8_t>& bytes, const std::string& path, std::vector<uint8_t>& data);

/// IDX images (n, h, w) or (n, h, w, c) channels-last, and IDX labels (n); counts must agree.
ImageSet read_idx(const std::string& images_path, const std::string& labels_path);

/// CIFAR-10 binary batches: records of 1 label byte + 3072 bytes (3 x 32 x 32, channel-major).
ImageSet read_cifar10(const std::vector<std::string>& batch_paths);

/// Grayscale by the ITU-R 601 luma weights (0.299 R + 0.587 G + 0.114 B), rounded; 1-channel sets unchanged.
ImageSet to_grayscale(const ImageSet& images);

/// The names load_dataset knows.
const std::vector<std::string>& dataset_names();
/// The folder a dataset is read from when none is given (e.g. Debian's /usr/share/datasets/fashion-mnist).
std::string default_dataset_dir(const std::string& name);

/// Loads a named dataset from `dir` ("" = its default folder):
///  - "fashion-mnist", "mnist", "mnist-subset", "svhn": IDX files train-images-idx{3,4}-ubyte[.gz],
///    train-labels-idx1-ubyte[.gz], t10k-images-..., t10k-labels-... (svhn: written by data-scripts/convert_svhn.py;
///    mnist-subset: by scripts/fetch-mnist-subset.sh);
///  - "cifar10": data_batch_1..5.bin and test_batch.bin (the "binary version").
/// Throws ConfigError for an unknown name (listing the known ones) and DataError for missing or bad files.
Dataset load_dataset(const std::string& name, const std::string& dir, bool grayscale);

}  // namespace sne::data
