// The image readers (lib/data): IDX files (MNIST, Fashion-MNIST; gzipped or not) and CIFAR-10 binary batches,
// from folders users point sne at. A bad file is a DataError naming it.
#include "core/error.h"
#include "data/images.h"
#include "fuzz_target.h"

SNE_FUZZ_TARGET(data, size) {
  const std::string path = sne_fuzz_file(data, size, ".idx");
  try {
    const std::vector<uint8_t> bytes = sne::data::read_maybe_gzip(path);
    std::vector<uint8_t> values;
    (void)sne::data::decode_idx(bytes, path, values);
  } catch (const sne::Error&) {
  }
  try {
    (void)sne::data::read_cifar10({path});
  } catch (const sne::Error&) {
  }
  return 0;
}
