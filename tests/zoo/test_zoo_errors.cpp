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

TEST_CASE("a header declaring far more entries than the file stores is refused before anything is allocated") {
  test::TempDir dir;
  const std::string path = dir.file("z.h5");
  test::write_zoo(path, 10, /*mixed=*/false);
  {  // /networks/* declare 10^9 entries: 12 GB of index in a file of kilobytes
    test::RawFile f(path);
    for (const char* name : {"networks/architecture", "networks/row"}) {
      h5::Handle d = h5::open_dataset(f.id, name, path);
      h5::resize(d, 1000000000, path);
    }
    for (const auto& p : h5::list_group(h5::open_group(f.id, "networks/properties", path).get(), path)) {
      h5::Handle d = h5::open_dataset(f.id, "networks/properties/" + p, path);
      h5::resize(d, 1000000000, path);
    }
  }
  CHECK_THAT(open_error(path), Catch::Contains("/networks/architecture: declares 1000000000 entries") &&
                                   Catch::Contains("the header is damaged"));
  std::filesystem::remove(path);
  test::write_zoo(path, 10, false);
  {  // params of 2^40 rows
    test::RawFile f(path);
    h5::Handle d = h5::open_dataset(f.id, "architectures/mlp/params", path);
    h5::resize(d, hsize_t{1} << 40, path);
  }
  CHECK_THAT(open_error(path), Catch::Contains("/architectures/mlp/params: declares"));
}

TEST_CASE("validate reports what the format forbids even when the file can be read") {
  test::TempDir dir;
  const std::string path = dir.file("z.h5");
  {  // a generator's zoo stopped at 1 of the 64 networks its recipe asks for
    Json prov = Json::parse(R"({"kind": "generator", "name": "sine", "recipe": {"count": 64}})");
    auto w = zoo::ZooWriter::create(path, prov);
    const int a = w->add_architecture(test::mlp_spec("mlp", 2, 4, 1));
    std::vector<float> p(17, 0.1f);
    w->append(a, p.data(), {{"accuracy", 0.5}}, {{"seed", 1.0}});
    w->close();
  }
  CHECK_THAT(join(zoo::check_zoo(zoo::ZooFile::open(path), 1 << 20).problems),
             Catch::Contains("holds 1 of the 64 networks its provenance promises"));
  {  // a name against the rule, and fixed-length string metadata
    test::RawFile f(path);
    REQUIRE(H5Lmove(f.id, "networks/properties/accuracy", f.id, "networks/properties/test accuracy", H5P_DEFAULT,
                    H5P_DEFAULT) >= 0);
    h5::Handle type(H5Tcopy(H5T_C_S1));
    H5Tset_size(type.get(), 8);
    const hsize_t n[1] = {1};
    h5::Handle space(H5Screate_simple(1, n, nullptr));
    h5::Handle d(H5Dcreate2(f.id, "networks/metadata/optimizer", type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT,
                            H5P_DEFAULT));
    const char value[8] = "adam";
    REQUIRE(H5Dwrite(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, value) >= 0);
  }
  auto z = zoo::ZooFile::open(path);
  const std::string problems = join(zoo::check_zoo(z, 1 << 20).problems);
  CHECK_THAT(problems, Catch::Contains("property name 'test accuracy' breaks the format's naming rule"));
  CHECK_THAT(problems, Catch::Contains("/networks/metadata/optimizer: fixed-length strings"));
  CHECK_THROWS_WITH(z->metadata("optimizer"), Catch::Contains("fixed-length strings"));  // what info reads
}

TEST_CASE("a symmetry acting twice on the same entries of an axis is an invalid spec") {
  auto spec = test::mlp_spec("mlp", 2, 4, 1);
  CHECK(spec.problems().empty());
  spec.symmetries[0].actions.push_back({"l0.weight", 0});
  CHECK_THAT(join(spec.problems()), Catch::Contains("acts on entries [0, 4) of axis 0 of tensor 'l0.weight'") &&
                                        Catch::Contains("this symmetry already permutes"));
  auto packed = test::mlp_spec("mlp", 2, 4, 1);  // disjoint ranges of one axis (q, k, v of a packed projection)
  packed.symmetries[0].size = 2;
  packed.symmetries[0].actions = {{"l0.weight", 0, 0, 1}, {"l0.weight", 0, 2, 1}, {"l0.bias", 0, 0, 2}};
  CHECK(packed.problems().empty());
}
