#include "zoo/embedding_merge.h"

#include <algorithm>
#include <filesystem>
#include <queue>
#include <regex>

#include "core/error.h"
#include "core/lock.h"
#include "zoo/embedding_writer.h"
#include "zoo/h5.h"
#include "zoo/zoo_stream.h"

namespace sne::zoo {
namespace fs = std::filesystem;

std::string embedding_part_path(const std::string& out, int shard, int shards) {
  return out + ".part-" + std::to_string(shard) + "-of-" + std::to_string(shards);
}

namespace {

Json without_shard(const Json& provenance) {
  Json j = Json::object();
  for (const auto& [k, v] : provenance.as_object())
    if (k != "shard") j.set(k, v);
  return j;
}

// One part, read sequentially in blocks.
struct Part {
  std::string path;
  h5::Handle file, codes, index;
  std::vector<h5::Handle> props;
  int64_t rows = 0, dim = 0, next = 0;  // next: first row not yet loaded
  std::vector<int64_t> idx;
  std::vector<float> block;
  std::vector<std::vector<double>> prop_block;
  std::size_t at = 0;  // position in the loaded block

  bool load(int64_t block_rows) {
    if (next >= rows) return false;
    const int64_t n = std::min(block_rows, rows - next);
    idx = h5::read_vector<int64_t>(index, static_cast<hsize_t>(next), static_cast<hsize_t>(n), path);
    block.resize(static_cast<std::size_t>(n * dim));
    h5::read_rows(codes, static_cast<hsize_t>(next), static_cast<hsize_t>(n), static_cast<hsize_t>(dim), block.data(), path);
    prop_block.clear();
    for (auto& p : props) prop_block.push_back(h5::read_vector<double>(p, static_cast<hsize_t>(next), static_cast<hsize_t>(n), path));
    next += n;
    at = 0;
    return true;
  }
  bool has() const { return at < idx.size(); }
};

// How many parts OUT was cut into, from the names of the parts present: OUT.part-I-of-N, one N.
int part_count(const std::string& out) {
  std::error_code ec;
  const fs::path dir = fs::path(out).parent_path().empty() ? fs::path(".") : fs::path(out).parent_path();
  const std::string base = fs::path(out).filename().string();
  const std::regex pattern(std::regex_replace(base, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                           R"(\.part-(\d+)-of-(\d+))");
  int shards = 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (!std::regex_match(name, m, pattern)) continue;
    const int n = std::stoi(m[2].str());
    if (shards != 0 && n != shards)
      throw DataError(out + ": parts of two sharded encodes lie here (of " + std::to_string(shards) + " and of " +
                      std::to_string(n) + "); remove the stale ones");
    shards = n;
  }
  if (ec) throw IoError(dir.string() + ": cannot list (" + ec.message() + ")");
  if (shards == 0) throw DataError(out + ": no parts to merge (expected " + base + ".part-I-of-N from sne encode --shard)");
  return shards;
}

Json read_provenance(const std::string& path, const h5::Handle& file) {
  const hid_t root = file.get();
  if (!h5::has_attr(root, "sne_format") || h5::read_attr_string(root, "sne_format", path) != "sne-embeddings")
    throw DataError(path + ": not an sne embeddings file (attribute sne_format)");
  try {
    Json j = Json::parse(h5::read_attr_string(root, "json", path));
    if (!j.is_object()) throw std::runtime_error("not an object");
    return j;
  } catch (const std::exception& e) {
    throw DataError(path + ": attribute 'json' is not a JSON object (" + e.what() + ")");
  }
}

}  // namespace

std::string encoded_zoo_path(const std::string& out) {
  const int shards = part_count(out);
  for (int i = 0; i < shards; ++i) {
    const std::string p = embedding_part_path(out, i, shards);
    if (!fs::exists(p)) continue;
    const Json prov = read_provenance(p, h5::open_file(p, false));
    const Json* zoo = prov.find("zoo");
    if (!zoo || !zoo->is_string()) throw DataError(p + ": its provenance names no zoo; pass --zoo");
    return zoo->as_string();
  }
  throw DataError(out + ": no parts to merge");
}

int64_t merge_embedding_parts(const std::string& out, const ZooFile& zoo, bool overwrite, bool remove_parts,
                              const std::function<void(int64_t, int64_t)>& progress) {
  const OutputLock lock = OutputLock::acquire(out + ".lock", out);  // one merge into OUT at a time
  std::error_code ec;
  if (fs::exists(out, ec) && !overwrite) throw IoError(out + ": already exists (refusing to overwrite; pass --overwrite)");
  const int shards = part_count(out);
  std::vector<std::string> missing;
  for (int i = 0; i < shards; ++i)
    if (!fs::exists(embedding_part_path(out, i, shards))) missing.push_back(std::to_string(i));
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    throw DataError(out + ": " + std::to_string(missing.size()) + " of " + std::to_string(shards) +
                    " parts are missing (shards " + list + "); run sne encode --shard I/" + std::to_string(shards) + " for them");
  }

  // Open every part and check that they belong together.
  std::vector<Part> parts(static_cast<std::size_t>(shards));
  Json provenance;
  std::vector<std::string> prop_names;
  int64_t total = 0;
  for (int i = 0; i < shards; ++i) {
    Part& p = parts[static_cast<std::size_t>(i)];
    p.path = embedding_part_path(out, i, shards);
    p.file = h5::open_file(p.path, false);
    const hid_t root = p.file.get();
    const Json prov = read_provenance(p.path, p.file);
    const Json* shard = prov.find("shard");
    const std::string expect = std::to_string(i) + "/" + std::to_string(shards);
    if (!shard || !shard->is_string() || shard->as_string() != expect)
      throw DataError(p.path + ": provenance says shard " + (shard ? shard->dump() : std::string("none")) + ", expected \"" +
                      expect + "\"");
    p.codes = h5::open_dataset(root, "embeddings", p.path);
    p.index = h5::open_dataset(root, "index", p.path);
    const auto d = h5::dims(p.codes, p.path);
    if (d.size() != 2) throw DataError(p.path + ": /embeddings is not [N, dim]");
    p.rows = static_cast<int64_t>(d[0]);
    p.dim = static_cast<int64_t>(d[1]);
    if (static_cast<int64_t>(h5::dims(p.index, p.path).at(0)) != p.rows)
      throw DataError(p.path + ": /index and /embeddings have different lengths");
    std::vector<std::string> names = h5::exists(root, "properties") ? h5::list_group(h5::open_group(root, "properties", p.path).get(), p.path)
                                                                     : std::vector<std::string>{};
    if (i == 0) {
      provenance = without_shard(prov);
      prop_names = names;
    } else if (without_shard(prov) != provenance || names != prop_names || p.dim != parts[0].dim) {
      throw DataError(p.path + ": not from the same encode as " + parts[0].path +
                      " (provenance, code dimension or properties differ)");
    }
    for (const auto& n : names) p.props.push_back(h5::open_dataset(root, "properties/" + n, p.path));
    total += p.rows;
  }
  const Json* split = provenance.find("split");
  const int64_t expected = split && split->is_string() && split->as_string() != "all"
                               ? static_cast<int64_t>(zoo.split(split->as_string()).size())
                               : zoo.num_networks();
  if (total != expected)
    throw DataError(out + ": the parts hold " + std::to_string(total) + " codes, but " + zoo.path() + " has " +
                    std::to_string(expected) + " networks in the encoded selection");

  // A k-way merge in the order an unsharded encode delivers the networks.
  constexpr int64_t kBlock = 4096;
  const auto load = [&](Part& p) {
    if (!p.load(kBlock)) return false;
    for (const int64_t i : p.idx)
      if (i < 0 || i >= zoo.num_networks())
        throw DataError(p.path + ": /index names network " + std::to_string(i) + ", but " + zoo.path() + " has " +
                        std::to_string(zoo.num_networks()) + " networks (a part of another zoo?)");
    return true;
  };
  for (auto& p : parts) load(p);
  const auto later = [&](int a, int b) {  // the heap's top is the part whose next network comes first
    return delivered_before(zoo, parts[static_cast<std::size_t>(b)].idx[parts[static_cast<std::size_t>(b)].at],
                            parts[static_cast<std::size_t>(a)].idx[parts[static_cast<std::size_t>(a)].at]);
  };
  std::priority_queue<int, std::vector<int>, decltype(later)> heap(later);
  for (int i = 0; i < shards; ++i)
    if (parts[static_cast<std::size_t>(i)].has()) heap.push(i);
  const std::string tmp = out + ".tmp";
  fs::remove(tmp, ec);
  const int64_t dim = parts[0].dim;
  int64_t written = 0;
  {
    EmbeddingWriter w(tmp, dim, prop_names, provenance, true);
    std::vector<float> codes;
    std::vector<int64_t> index;
    std::vector<double> props;
    const auto flush = [&] {
      if (index.empty()) return;
      w.append(codes.data(), index, props);
      written += static_cast<int64_t>(index.size());
      codes.clear();
      index.clear();
      props.clear();
      if (progress) progress(written, total);
    };
    int64_t last = -1;
    while (!heap.empty()) {
      const int i = heap.top();
      heap.pop();
      Part& p = parts[static_cast<std::size_t>(i)];
      const int64_t net = p.idx[p.at];
      if (net == last) throw DataError(p.path + ": network " + std::to_string(net) + " is in two parts");
      last = net;
      index.push_back(net);
      codes.insert(codes.end(), p.block.begin() + static_cast<std::ptrdiff_t>(p.at * static_cast<std::size_t>(dim)),
                   p.block.begin() + static_cast<std::ptrdiff_t>((p.at + 1) * static_cast<std::size_t>(dim)));
      for (const auto& col : p.prop_block) props.push_back(col[p.at]);
      ++p.at;
      if (p.has() || load(p)) heap.push(i);
      if (static_cast<int64_t>(index.size()) == kBlock) flush();
    }
    flush();
    w.close();
  }
  parts.clear();  // close the parts before removing them
  fs::rename(tmp, out, ec);
  if (ec) throw IoError(out + ": cannot move the merged file into place (" + ec.message() + ")");
  if (remove_parts)
    for (int i = 0; i < shards; ++i) fs::remove(embedding_part_path(out, i, shards), ec);
  return written;
}

}  // namespace sne::zoo
