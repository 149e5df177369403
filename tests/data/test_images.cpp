// Image readers: IDX (raw and gzipped, 3 and 4 dimensions), CIFAR-10 batches, grayscale, and every bad input.
#include <zlib.h>

#include "sne_catch.h"
#include <fstream>

#include "core/error.h"
#include "data/images.h"
#include "zoo/fixtures.h"

using namespace sne;
using Catch::Matchers::Contains;

namespace {

std::vector<uint8_t> idx_bytes(const std::vector<int64_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> b = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (auto d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>((d >> s) & 0xff));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

void write_raw(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile g = gzopen(path.c_str(), "wb");
  gzwrite(g, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(g);
}

std::vector<uint8_t> read_raw(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

// n images of h x w x c (channels last) with pixel (i, y, x, ch) = i + 3y + 5x + 7ch (mod 256).
std::vector<uint8_t> pixels_hwc(int n, int h, int w, int c) {
  std::vector<uint8_t> p;
  for (int i = 0; i < n; ++i)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int ch = 0; ch < c; ++ch) p.push_back(static_cast<uint8_t>((i + 3 * y + 5 * x + 7 * ch) % 256));
  return p;
}

}  // namespace

TEST_CASE("IDX images and labels round trip, gzipped or not", "[data]") {
  test::TempDir dir;
  const auto images = idx_bytes({4, 5, 6}, pixels_hwc(4, 5, 6, 1));
  const auto labels = idx_bytes({4}, {3, 1, 4, 1});
  write_raw(dir.file("i"), images);
  write_raw(dir.file("l"), labels);
  write_gz(dir.file("i.gz"), images);
  write_gz(dir.file("l.gz"), labels);
  for (const auto& [ip, lp] : {std::pair{dir.file("i"), dir.file("l")}, std::pair{dir.file("i.gz"), dir.file("l.gz")}}) {
    const auto s = data::read_idx(ip, lp);
    CHECK(s.count == 4);
    CHECK(s.channels == 1);
    CHECK(s.height == 5);
    CHECK(s.width == 6);
    CHECK(s.labels == std::vector<int64_t>{3, 1, 4, 1});
    CHECK(s.pixels == pixels_hwc(4, 5, 6, 1));
  }
}

TEST_CASE("IDX colour images (n, h, w, c) become channel-major", "[data]") {
  test::TempDir dir;
  write_raw(dir.file("i"), idx_bytes({2, 3, 4, 3}, pixels_hwc(2, 3, 4, 3)));
  write_raw(dir.file("l"), idx_bytes({2}, {0, 9}));
  const auto s = data::read_idx(dir.file("i"), dir.file("l"));
  REQUIRE(s.channels == 3);
  // pixel (i=1, ch=2, y=1, x=3) = 1 + 3 + 15 + 14
  CHECK(s.pixels[static_cast<std::size_t>(((1 * 3 + 2) * 3 + 1) * 4 + 3)] == 33);
  const auto g = data::to_grayscale(s);
  CHECK(g.channels == 1);
  // luma of (i=0, y=0, x=0): channels 0, 7, 14 -> 0.587*7 + 0.114*14 = 5.705 -> 6
  CHECK(g.pixels[0] == 6);
}

TEST_CASE("bad IDX files are refused with the file named", "[data]") {
  test::TempDir dir;
  const auto images = idx_bytes({4, 5, 6}, pixels_hwc(4, 5, 6, 1));
  write_raw(dir.file("l"), idx_bytes({4}, {0, 1, 2, 3}));

  SECTION("truncated data") {
    write_raw(dir.file("i"), std::vector<uint8_t>(images.begin(), images.end() - 7));
    CHECK_THROWS_WITH(data::read_idx(dir.file("i"), dir.file("l")), Contains(dir.file("i")) && Contains("truncated"));
  }
  SECTION("truncated gzip stream") {
    write_gz(dir.file("i.gz"), images);
    auto gz = read_raw(dir.file("i.gz"));
    gz.resize(gz.size() / 2);
    write_raw(dir.file("i.gz"), gz);
    CHECK_THROWS_AS(data::read_idx(dir.file("i.gz"), dir.file("l")), DataError);
    CHECK_THROWS_WITH(data::read_idx(dir.file("i.gz"), dir.file("l")), Contains("corrupt or truncated gzip"));
  }
  SECTION("corrupt gzip stream") {
    write_gz(dir.file("i.gz"), images);
    auto gz = read_raw(dir.file("i.gz"));
    for (std::size_t k = 12; k < gz.size() - 8; k += 3) gz[k] ^= 0x5a;
    write_raw(dir.file("i.gz"), gz);
    CHECK_THROWS_WITH(data::read_idx(dir.file("i.gz"), dir.file("l")), Contains("i.gz") && Contains("gzip"));
  }
  SECTION("not IDX") {
    write_raw(dir.file("i"), {'h', 'e', 'l', 'l', 'o', '!'});
    CHECK_THROWS_WITH(data::read_idx(dir.file("i"), dir.file("l")), Contains("not an IDX file"));
  }
  SECTION("label and image counts differ") {
    write_raw(dir.file("i"), images);
    write_raw(dir.file("l3"), idx_bytes({3}, {0, 1, 2}));
    CHECK_THROWS_WITH(data::read_idx(dir.file("i"), dir.file("l3")),
                      Contains("holds 4 images") && Contains("holds 3 labels"));
  }
  SECTION("label out of range") {
    write_raw(dir.file("i"), images);
    write_raw(dir.file("l"), idx_bytes({4}, {0, 1, 12, 3}));
    CHECK_THROWS_WITH(data::read_idx(dir.file("i"), dir.file("l")), Contains("label 12 at index 2"));
  }
  SECTION("missing file") {
    CHECK_THROWS_WITH(data::read_idx(dir.file("nope"), dir.file("l")), Contains("nope") && Contains("cannot open"));
  }
}

TEST_CASE("CIFAR-10 binary batches", "[data]") {
  test::TempDir dir;
  std::vector<uint8_t> batch;
  for (int i = 0; i < 3; ++i) {
    batch.push_back(static_cast<uint8_t>(i + 4));
    for (int k = 0; k < 3072; ++k) batch.push_back(static_cast<uint8_t>((i * 7 + k) % 251));
  }
  write_raw(dir.file("b1.bin"), batch);
  write_raw(dir.file("b2.bin"), std::vector<uint8_t>(batch.begin(), batch.begin() + 3073));
  const auto s = data::read_cifar10({dir.file("b1.bin"), dir.file("b2.bin")});
  CHECK(s.count == 4);
  CHECK(s.channels == 3);
  CHECK(s.labels == std::vector<int64_t>{4, 5, 6, 4});
  CHECK(s.pixels[3072 * 2 + 10] == (2 * 7 + 10) % 251);

  write_raw(dir.file("bad.bin"), std::vector<uint8_t>(batch.begin(), batch.end() - 100));
  CHECK_THROWS_WITH(data::read_cifar10({dir.file("bad.bin")}),
                    Contains("bad.bin") && Contains("not a whole number of CIFAR-10 records"));
  batch[0] = 10;
  write_raw(dir.file("label.bin"), batch);
  CHECK_THROWS_WITH(data::read_cifar10({dir.file("label.bin")}), Contains("record 0 has label 10"));
}

TEST_CASE("load_dataset names its problems", "[data]") {
  test::TempDir dir;
  CHECK_THROWS_AS(data::load_dataset("fashion-mnst", "", false), ConfigError);
  CHECK_THROWS_WITH(data::load_dataset("fashion-mnst", "", false), Contains("did you mean 'fashion-mnist'"));
  CHECK_THROWS_WITH(data::load_dataset("mnist", dir.file("absent"), false), Contains("does not exist"));
  CHECK_THROWS_WITH(data::load_dataset("mnist", dir.path.string(), false), Contains("train-images-idx3-ubyte.gz"));

  write_gz(dir.file("train-images-idx3-ubyte.gz"), idx_bytes({4, 5, 6}, pixels_hwc(4, 5, 6, 1)));
  write_gz(dir.file("train-labels-idx1-ubyte.gz"), idx_bytes({4}, {0, 1, 2, 3}));
  write_raw(dir.file("t10k-images-idx3-ubyte"), idx_bytes({2, 5, 6}, pixels_hwc(2, 5, 6, 1)));
  write_raw(dir.file("t10k-labels-idx1-ubyte"), idx_bytes({2}, {7, 8}));
  const auto d = data::load_dataset("mnist", dir.path.string(), false);
  CHECK(d.train.count == 4);
  CHECK(d.test.count == 2);
  CHECK(d.test.labels == std::vector<int64_t>{7, 8});
}
