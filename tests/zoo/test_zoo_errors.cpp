#include "sne_catch.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/strings.h"
#include "fixtures.h"
#include "zoo/h5.h"
#include "zoo/zoo_check.h"
#include "zoo/zoo_file.h"
#include "zoo/zoo_stream.h"

using namespace sne;
namespace h5 = sne::zoo::h5;

namespace sne::test {
/// Opens a file with raw HDF5 to damage it in a test.
struct RawFile {
  hid_t id;
  explicit RawFile(const std::string& path) { id = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT); }
  ~RawFile() { H5Fclose(id); }
};

}  // namespace sne::test

namespace {
std::string open_error(const std::string& path) {
  try {
    zoo::ZooFile::open(path);
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST_CASE("files that are not zoos are refused with the reason") {
  test::TempDir dir;
  CHECK_THAT(open_error(dir.file("missing.h5")), Catch::Contains("missing.h5: no such file"));
  std::ofstream(dir.file("text.h5")) << "hello, not hdf5\n";
  CHECK_THAT(open_error(dir.file("text.h5")), Catch::Contains("text.h5: not an HDF5 file"));
  { h5::Handle f = h5::create_file(dir.file("plain.h5")); }
  CHECK_THAT(open_error(dir.file("plain.h5")), Catch::Contains("without the sne zoo schema"));
}

TEST_CASE("a newer format version is refused naming both versions") {
  test::TempDir dir;
  const std::string path = dir.file("z.h5");
  test::write_zoo(path, 4);
  { test::RawFile f(path); h5::write_attr_int(f.id, "format_version", 2, path); }
  CHECK_THAT(open_error(path), Catch::Contains("format version 2 is newer") && Catch::Contains("up to 1"));
}

TEST_CASE("a truncated file is reported as truncated") {
  test::TempDir dir;
  const std::string path = dir.file("z.h5");
  test::write_zoo(path, 200);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  CHECK_THAT(open_error(path), Catch::Contains("truncated"));
}

TEST_CASE("stored params that disagree with the declared architecture are refused") {
  test::TempDir dir;
  const std::string path = dir.file("z.h5");
  test::write_zoo(path, 4);
  {
    test::RawFile f(path);
    h5::Handle g(H5Gopen2(f.id, "architectures/mlp", H5P_DEFAULT));
    h5::write_attr_string(g.get(), "spec", test::mlp_spec("mlp", 3, 4, 1).to_json().dump(), path);
  }
  CHECK_THAT(open_error(path), Catch::Contains("/architectures/mlp/params has shape [2, 17]") &&
                                   Catch::Contains("declares 21 parameters") && Catch::Contains("l0.weight [4, 3]"));
}

TEST_CASE("validate names the networks with NaN or Inf weights") {
  test::TempDir dir;
  const std::string path = dir.file("z.h5");
  {
    auto w = zoo::ZooWriter::create(path, Json::object());
    const int a = w->add_architecture(test::mlp_spec("mlp", 2, 4, 1));
    for (int i = 0; i < 30; ++i) {
      std::vector<float> p(17, 0.1f);
      if (i == 3) p[5] = std::nanf("");
      if (i == 21) p[16] = INFINITY;
      w->append(a, p.data());
    }
    w->close();
  }
  const auto report = zoo::check_zoo(zoo::ZooFile::open(path), 1 << 20);
  REQUIRE(report.problems.size() == 1);
  CHECK_THAT(report.problems[0], Catch::Contains("NaN/Inf weights in networks 3, 21") &&
                                     Catch::Contains("first in tensor 'l0.weight'"));
  CHECK(report.networks_scanned == 30);
}

TEST_CASE("a split naming a missing network is caught by validate and by the reader") {
  test::TempDir dir;
  const std::string path = dir.file("z.h5");
  test::write_zoo(path, 10);
  {
    test::RawFile f(path);
    h5::remove(f.id, "splits/test", path);
    h5::Handle d = h5::create_vector(f.id, "splits/test", h5::native_type<int64_t>(), path);
    h5::append_vector<int64_t>(d, {4, 9, 12}, path);
  }
  auto z = zoo::ZooFile::open(path);
  const auto report = zoo::check_zoo(z, 1 << 20);
  CHECK_THAT(join(report.problems), Catch::Contains("/splits/test names network 12 that do not exist"));
  zoo::StreamOptions o;
  o.split = "test";
  CHECK_THROWS_WITH(zoo::ZooStream(z, o), Catch::Contains("split 'test' names network 12"));
}

TEST_CASE("overlapping train and test splits are reported") {
  test::TempDir dir;
  const std::string path = dir.file("z.h5");
  test::write_zoo(path, 10);
  {
    auto w = zoo::ZooWriter::open_append(path);
    w->set_split("test", {0, 4, 9});
    w->close();
  }
  const auto report = zoo::check_zoo(zoo::ZooFile::open(path), 1 << 20);
  CHECK_THAT(join(report.problems), Catch::Contains("splits 'test' and 'train' share network 0"));
}

TEST_CASE("an empty zoo is reported, not streamed") {
  test::TempDir dir;
  const std::string path = dir.file("z.h5");
  zoo::ZooWriter::create(path, Json::object())->close();
  auto z = zoo::ZooFile::open(path);
  CHECK(z->num_networks() == 0);
  CHECK_THAT(join(zoo::check_zoo(z, 1 << 20).problems), Catch::Contains("holds no networks"));
  CHECK_THROWS_WITH(zoo::ZooStream(z, {}), Catch::Contains("holds no networks"));
}

TEST_CASE("unknown names in stream options are refused with the known ones") {
  test::TempDir dir;
  const std::string path = dir.file("z.h5");
  test::write_zoo(path, 10);
  auto z = zoo::ZooFile::open(path);
  zoo::StreamOptions o;
  o.properties = {"frequency"};
  CHECK_THROWS_WITH(zoo::ZooStream(z, o), Catch::Contains("no property 'frequency'") && Catch::Contains("accuracy"));
  o.properties = {};
  o.architectures = {"vit"};
  CHECK_THROWS_WITH(zoo::ZooStream(z, o), Catch::Contains("no architecture 'vit'") && Catch::Contains("mlp, tiny_cnn"));
}
