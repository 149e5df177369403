#include <hdf5.h>

#include "sne_catch.h"
#include <cmath>

#include "core/error.h"
#include "fixtures.h"
#include "zoo/zoo_file.h"

using namespace sne;

TEST_CASE("a written zoo reads back exactly") {
  test::TempDir dir;
  const std::string path = dir.file("z.h5");
  test::write_zoo(path, 50, true, 1024);  // a small buffer forces many partial flushes
  auto z = zoo::ZooFile::open(path);
  REQUIRE(z->num_networks() == 50);
  REQUIRE(z->architectures().size() == 2);
  CHECK(z->architectures()[1] == test::cnn_spec());
  CHECK(z->rows_per_architecture() == std::vector<int64_t>{25, 25});
  CHECK(z->provenance().at("name").as_string() == "test fixture");
  for (int64_t i : {0, 1, 17, 48, 49}) {
    const auto p = z->network_params(i);
    CHECK(static_cast<int>(z->network_architecture()[static_cast<std::size_t>(i)]) == i % 2);
    for (std::size_t k = 0; k < p.size(); ++k) REQUIRE(p[k] == test::weight_value(i, static_cast<int64_t>(k)));
  }
  const auto acc = z->property("accuracy");
  const auto late = z->property("late");
  CHECK(acc[10] == Approx(0.2));
  CHECK(std::isnan(late[24]));  // the column appeared at network 25: earlier networks are unknown
  CHECK(late[25] == 25.0);
  const auto ds = z->metadata("dataset");
  CHECK(ds.is_string);
  CHECK(ds.strings[4] == "mnist");
  CHECK(ds.strings[3] == "fashion");
  CHECK(z->metadata("step").numbers[7] == 2.0);
  CHECK(z->split("test").size() == 10);
  CHECK_THROWS_WITH(z->split("tset"), Catch::Contains("no split 'tset'") && Catch::Contains("did you mean 'test'"));
  CHECK_THROWS_WITH(z->property("acuracy"), Catch::Contains("did you mean 'accuracy'"));
}

TEST_CASE("closing a writer or a reader leaves no HDF5 object open") {
  // A leaked id would keep the file open (and locked) after close: another open of it in the same process
  // then depends on HDF5 recognising the file, which fails on some file systems.
  test::TempDir dir;
  const std::string path = dir.file("z.h5");
  test::write_zoo(path, 30, true, 1024);
  CHECK(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0);
  {
    auto z = zoo::ZooFile::open(path);
    CHECK(z->num_networks() == 30);
  }
  CHECK(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0);
}

TEST_CASE("appending to an existing zoo continues its numbering and columns") {
  test::TempDir dir;
  const std::string path = dir.file("z.h5");
  test::write_zoo(path, 10, false);
  {
    auto w = zoo::ZooWriter::open_append(path);
    CHECK(w->num_networks() == 10);
    const int a = w->add_architecture(test::mlp_spec("mlp", 2, 4, 1));  // the same spec: found, not added
    CHECK(a == 0);
    std::vector<float> p(17, 0.5f);
    CHECK(w->append(a, p.data(), {{"accuracy", 0.9}, {"fresh", 1.0}}, {{"dataset", std::string("svhn")}}) == 10);
    w->close();
  }
  auto z = zoo::ZooFile::open(path);
  CHECK(z->num_networks() == 11);
  CHECK(z->network_params(10)[16] == 0.5f);
  CHECK(z->property("accuracy")[10] == 0.9);
  CHECK(std::isnan(z->property("fresh")[3]));
  CHECK(z->metadata("dataset").strings[10] == "svhn");
  CHECK(std::isnan(z->metadata("step").numbers[10]));
}

TEST_CASE("the writer refuses what would corrupt a zoo") {
  test::TempDir dir;
  const std::string path = dir.file("z.h5");
  test::write_zoo(path, 4, false);
  CHECK_THROWS_AS(zoo::ZooWriter::create(path, Json::object()), IoError);
  CHECK_THROWS_WITH(zoo::ZooWriter::create(dir.file("no/such/dir/z.h5"), Json::object()),
                    Catch::Contains("does not exist"));
  auto w = zoo::ZooWriter::open_append(path);
  CHECK_THROWS_WITH(w->add_architecture(test::mlp_spec("mlp", 3, 4, 1)), Catch::Contains("different spec"));
  auto bad = test::mlp_spec("bad", 2, 4, 1);
  bad.symmetries[0].actions[0].tensor = "ghost";
  CHECK_THROWS_WITH(w->add_architecture(bad), Catch::Contains("unknown tensor 'ghost'"));
  std::vector<float> p(17, 0.f);
  CHECK_THROWS_WITH(w->append(0, p.data(), {}, {{"dataset", 3.0}}), Catch::Contains("metadata 'dataset' holds strings"));
  CHECK_THROWS_WITH(w->append(0, p.data(), {{"bad name", 1.0}}), Catch::Contains("invalid property name"));
  CHECK_THROWS_WITH(w->set_split("train", {0, 99}), Catch::Contains("names network 99"));
}
