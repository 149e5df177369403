#pragma once
// Test data builders: small architectures with their symmetry specs, and zoos with known weights.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>

#include "core/files.h"
#include "zoo/architecture.h"
#include "zoo/zoo_writer.h"

namespace sne::test {

/// A fresh temporary directory, removed when the object dies.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("sne_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    sne::remove_tree(path.string(), ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

/// MLP in -> hidden -> out with its hidden-unit symmetry.
inline zoo::ArchitectureSpec mlp_spec(const std::string& name, int in, int hidden, int out) {
  zoo::ArchitectureSpec a;
  a.name = name;
  a.layers.push_back({"l0", zoo::LayerKind::linear, 0,
                      {{"l0.weight", "weight", {hidden, in}}, {"l0.bias", "bias", {hidden}}}, Json::object()});
  a.layers.push_back({"l1", zoo::LayerKind::linear, 1,
                      {{"l1.weight", "weight", {out, hidden}}, {"l1.bias", "bias", {out}}}, Json::object()});
  a.symmetries.push_back({"l0.units", "permutation", hidden, {{"l0.weight", 0}, {"l0.bias", 0}, {"l1.weight", 1}}});
  a.assign_offsets();
  return a;
}

/// conv2d(1 -> 2, 3x3) on 4x4 input -> flatten (2*2*2) -> linear(8 -> 3): a flatten->linear block symmetry.
inline zoo::ArchitectureSpec cnn_spec() {
  zoo::ArchitectureSpec a;
  a.name = "tiny_cnn";
  a.layers.push_back({"conv", zoo::LayerKind::conv2d, 0,
                      {{"conv.weight", "weight", {2, 1, 3, 3}}, {"conv.bias", "bias", {2}}}, Json::object()});
  a.layers.push_back({"fc", zoo::LayerKind::linear, 1,
                      {{"fc.weight", "weight", {3, 8}}, {"fc.bias", "bias", {3}}}, Json::object()});
  zoo::SymmetryAction flat{"fc.weight", 1, 0, 4};
  a.symmetries.push_back({"conv.channels", "permutation", 2, {{"conv.weight", 0}, {"conv.bias", 0}, flat}});
  a.assign_offsets();
  return a;
}

/// Weight k of network i: a value that identifies both.
inline float weight_value(int64_t i, int64_t k) { return static_cast<float>(i) + static_cast<float>(k) * 1e-3f; }

/// Writes a zoo of `n` networks alternating between an MLP and the tiny CNN (when `mixed`), with properties
/// `accuracy` (= i / n) and `late` (only from network n/2 on), metadata `dataset` (string) and `step` (number),
/// and splits train/validation/test (60/20/20 %).
inline void write_zoo(const std::string& path, int64_t n, bool mixed = true, int64_t buffer_bytes = 8 << 20) {
  zoo::WriterOptions opt;
  opt.buffer_bytes = buffer_bytes;
  Json prov = Json::object();
  prov.set("kind", "manual");
  prov.set("name", "test fixture");
  auto w = zoo::ZooWriter::create(path, prov, opt);
  const int a0 = w->add_architecture(mlp_spec("mlp", 2, 4, 1));
  const int a1 = mixed ? w->add_architecture(cnn_spec()) : a0;
  std::vector<int64_t> train, validation, test;
  for (int64_t i = 0; i < n; ++i) {
    const int arch = (mixed && i % 2 == 1) ? a1 : a0;
    std::vector<float> p(static_cast<std::size_t>(w->architectures()[static_cast<std::size_t>(arch)].num_params()));
    for (std::size_t k = 0; k < p.size(); ++k) p[k] = weight_value(i, static_cast<int64_t>(k));
    zoo::Properties props = {{"accuracy", static_cast<double>(i) / static_cast<double>(n)}};
    if (i >= n / 2) props.push_back({"late", static_cast<double>(i)});
    w->append(arch, p.data(), props, {{"dataset", std::string(i % 3 ? "mnist" : "fashion")}, {"step", double(i % 5)}});
    (i % 5 < 3 ? train : i % 5 == 3 ? validation : test).push_back(i);
  }
  w->set_split("train", train);
  w->set_split("validation", validation);
  w->set_split("test", test);
  w->close();
}

}  // namespace sne::test
