#include "sne_catch.h"

#include "core/strings.h"

TEST_CASE("edit distance and did-you-mean") {
  CHECK(sne::edit_distance("kitten", "sitting") == 3);
  CHECK(sne::edit_distance("", "abc") == 3);
  const std::vector<std::string> keys = {"zoo.path", "zoo.reader.batch_size", "run.threads"};
  CHECK(sne::did_you_mean("zoo.reader.batchsize", keys) == "zoo.reader.batch_size");
  CHECK(sne::did_you_mean("run.thread", keys) == "run.threads");
  CHECK(sne::did_you_mean("completely.different.thing", keys).empty());
}

TEST_CASE("format_number is the shortest exact text") {
  CHECK(sne::format_number(0.001) == "0.001");
  CHECK(sne::format_number(256) == "256");
  CHECK(sne::format_number(30) == "30");
  CHECK(sne::format_number(-1e20) == "-1e+20");
  CHECK(std::stod(sne::format_number(1.0 / 3.0)) == 1.0 / 3.0);
  CHECK(sne::format_number(std::nan("")) == "nan");
}

TEST_CASE("split_list trims items and drops blank ones") {
  CHECK(sne::split_list("a, b,c") == std::vector<std::string>{"a", "b", "c"});
  CHECK(sne::split_list(" ,x,, y ,") == std::vector<std::string>{"x", "y"});
  CHECK(sne::split_list("").empty());
  CHECK(sne::split_list("0;1", ';') == std::vector<std::string>{"0", "1"});
}
