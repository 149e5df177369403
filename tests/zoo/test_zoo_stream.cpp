#include "sne_catch.h"

#include <algorithm>
#include <set>

#include "fixtures.h"
#include "zoo/zoo_stream.h"

using namespace sne;

namespace {

// Every network of one epoch, in delivery order; checks each network's weights and property on the way.
std::vector<int64_t> drain(zoo::ZooStream& s, std::vector<int64_t>* batch_sizes = nullptr,
                           std::vector<std::set<int>>* batch_archs = nullptr) {
  std::vector<int64_t> order;
  zoo::NetworkBatch b;
  const int64_t n_total = 60;
  while (s.next(b)) {
    if (batch_sizes) batch_sizes->push_back(b.size());
    if (batch_archs) batch_archs->emplace_back(b.arch.begin(), b.arch.end());
    for (int64_t i = 0; i < b.size(); ++i) {
      const int64_t id = b.index[static_cast<std::size_t>(i)];
      order.push_back(id);
      REQUIRE(b.arch[static_cast<std::size_t>(i)] == id % 2);
      const float* p = b.params_of(i);
      REQUIRE(p[0] == test::weight_value(id, 0));
      REQUIRE(p[b.num_params_of(i) - 1] == test::weight_value(id, b.num_params_of(i) - 1));
      if (!b.properties.empty()) REQUIRE(b.properties[static_cast<std::size_t>(i)] == Approx(double(id) / n_total));
    }
  }
  return order;
}

struct Zoo60 {
  test::TempDir dir;
  std::shared_ptr<zoo::ZooFile> file;
  Zoo60() {
    test::write_zoo(dir.file("z.h5"), 60);
    file = zoo::ZooFile::open(dir.file("z.h5"));
  }
};

}  // namespace

TEST_CASE("sequential streaming delivers every network once with its weights and properties") {
  Zoo60 z;
  zoo::StreamOptions o;
  o.batch_size = 7;
  o.properties = {"accuracy"};
  for (bool prefetch : {true, false}) {
    o.prefetch = prefetch;
    zoo::ZooStream s(z.file, o);
    std::vector<int64_t> sizes;
    const auto order = drain(s, &sizes);
    CHECK(order.size() == 60);
    CHECK(std::set<int64_t>(order.begin(), order.end()).size() == 60);
    CHECK(sizes.front() == 7);
    CHECK(sizes.back() == 60 % 7);
  }
}

TEST_CASE("shuffled streaming is a permutation that depends only on seed and epoch") {
  Zoo60 z;
  zoo::StreamOptions o;
  o.batch_size = 8;
  o.shuffle = true;
  o.seed = 3;
  o.memory_budget_bytes = 6 * 8 * 4 * 100;  // tiny budget: windows of a few rows, many windows to shuffle
  zoo::ZooStream a(z.file, o);
  o.prefetch = false;
  zoo::ZooStream b(z.file, o);
  const auto a0 = drain(a);
  const auto b0 = drain(b);
  CHECK(a0 == b0);  // prefetching does not change the order
  std::vector<int64_t> sorted = a0;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> all(60);
  for (int i = 0; i < 60; ++i) all[static_cast<std::size_t>(i)] = i;
  CHECK(sorted == all);
  CHECK(a0 != all);
  a.start_epoch(1);
  const auto a1 = drain(a);
  CHECK(a1 != a0);
  a.start_epoch(0);
  CHECK(drain(a) == a0);  // replaying an epoch replays its order (exact resume)
}

TEST_CASE("streaming options: split, architecture filter, grouping, shards, drop_last") {
  Zoo60 z;
  zoo::StreamOptions o;
  o.batch_size = 5;
  SECTION("split") {
    o.split = "validation";
    zoo::ZooStream s(z.file, o);
    const auto order = drain(s);
    CHECK(order.size() == 12);
    for (int64_t id : order) CHECK(id % 5 == 3);
  }
  SECTION("architecture filter") {
    o.architectures = {"tiny_cnn"};
    zoo::ZooStream s(z.file, o);
    const auto order = drain(s);
    CHECK(order.size() == 30);
    for (int64_t id : order) CHECK(id % 2 == 1);
  }
  SECTION("group by architecture never mixes architectures in a batch") {
    o.group_by_architecture = true;
    o.shuffle = true;
    std::vector<std::set<int>> archs;
    zoo::ZooStream s(z.file, o);
    CHECK(drain(s, nullptr, &archs).size() == 60);
    for (const auto& a : archs) CHECK(a.size() == 1);
  }
  SECTION("mixed batches can mix architectures") {
    o.shuffle = true;
    std::vector<std::set<int>> archs;
    zoo::ZooStream s(z.file, o);
    drain(s, nullptr, &archs);
    CHECK(std::any_of(archs.begin(), archs.end(), [](const std::set<int>& a) { return a.size() == 2; }));
  }
  SECTION("shards partition the selection") {
    std::set<int64_t> seen;
    std::size_t total = 0;
    for (int64_t k = 0; k < 3; ++k) {
      o.num_shards = 3;
      o.shard_index = k;
      zoo::ZooStream s(z.file, o);
      const auto part = drain(s);
      total += part.size();
      seen.insert(part.begin(), part.end());
    }
    CHECK(total == 60);
    CHECK(seen.size() == 60);
  }
  SECTION("aligned shards hold the unsharded stream's batches, whole") {
    o.architectures = {"tiny_cnn"};  // one architecture: delivered in the selection's order (30 networks)
    o.batch_size = 4;
    zoo::ZooStream whole(z.file, o);
    std::vector<std::vector<int64_t>> batches, sharded;
    for (zoo::NetworkBatch b; whole.next(b);) batches.push_back(b.index);
    o.shard_align = 4;
    o.num_shards = 3;
    for (int64_t k = 0; k < 3; ++k) {
      o.shard_index = k;
      zoo::ZooStream s(z.file, o);
      for (zoo::NetworkBatch b; s.next(b);) sharded.push_back(b.index);
    }
    CHECK(sharded == batches);
    o.num_shards = 9;  // fewer blocks of 4 than shards: unaligned, still a partition
    std::size_t total = 0;
    for (int64_t k = 0; k < 9; ++k) {
      o.shard_index = k;
      zoo::ZooStream s(z.file, o);
      total += drain(s).size();
    }
    CHECK(total == 30);
  }
  SECTION("drop_last") {
    o.batch_size = 7;
    o.drop_last = true;
    std::vector<int64_t> sizes;
    zoo::ZooStream s(z.file, o);
    CHECK(drain(s, &sizes).size() == 56);
    CHECK(std::all_of(sizes.begin(), sizes.end(), [](int64_t n) { return n == 7; }));
  }
}

TEST_CASE("buffered weights stay within the memory budget") {
  Zoo60 z;
  zoo::StreamOptions o;
  o.shuffle = true;
  o.memory_budget_bytes = 4096;
  zoo::ZooStream s(z.file, o);
  for (int a = 0; a < 2; ++a) {
    const int64_t row_bytes = z.file->architectures()[static_cast<std::size_t>(a)].num_params() * 4;
    CHECK(s.window_rows(a) * row_bytes * s.max_buffered_windows() <= o.memory_budget_bytes);
  }
  CHECK(drain(s).size() == 60);
}
