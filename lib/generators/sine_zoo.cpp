#include "generators/sine_zoo.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/strings.h"
#include "core/version.h"
#include "generators/zoo_output.h"
#include "zoo/zoo_file.h"
#include "zoo/zoo_writer.h"

namespace sne::generators {
namespace {

constexpr const char* kGeneratorName = "sine";

Json provenance_for(const SineRecipe& r, int64_t seed) {
  Json p = Json::object();
  p.set("kind", "generator");
  p.set("name", kGeneratorName);
  p.set("description", "SIRENs fit to amplitude*sin(frequency*x) (DWSNets recipe, SNE section 4.1)");
  p.set("recipe", sine_recipe_json(r, seed));
  p.set("networks_expected", static_cast<long long>(r.count));  // sne zoo validate flags a zoo stopped short
  p.set("generated_by", std::string("sne ") + kVersion);
  return p;
}


// Test/validation sizes: the recipe's, or 20 % each when the zoo is too small for them.
std::pair<int64_t, int64_t> split_sizes(const SineRecipe& r) {
  if (r.test_count + r.validation_count < r.count) return {r.test_count, r.validation_count};
  return {r.count / 5, r.count / 5};
}

}  // namespace

SineZooReport generate_sine_zoo(const SineRecipe& r, int64_t seed, const std::string& path, const Context& ctx,
                                const std::atomic<bool>* stop,
                                const std::function<void(int64_t, int64_t, int64_t)>& progress, double flush_seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  check_sine_recipe(r);
  SineZooReport report;
  report.total = r.count;
  const Json provenance = provenance_for(r, seed);

  // Which INRs are already in the file (resume), by their recipe index.
  std::vector<bool> present(static_cast<std::size_t>(r.count), false);
  std::vector<int64_t> storage_of(static_cast<std::size_t>(r.count), -1);
  auto writer = open_generator_output(path, provenance, kGeneratorName, [&](const zoo::ZooFile& existing) {
    if (existing.num_networks() > 0) {
      const auto inr = existing.metadata("inr").numbers;
      for (std::size_t i = 0; i < inr.size(); ++i) {
        const auto k = static_cast<int64_t>(inr[i]);
        if (k < 0 || k >= r.count || present[static_cast<std::size_t>(k)])
          throw DataError(path + ": network " + std::to_string(i) + " has an invalid or repeated 'inr' index");
        present[static_cast<std::size_t>(k)] = true;
        storage_of[static_cast<std::size_t>(k)] = static_cast<int64_t>(i);
      }
    }
    report.already_present = existing.num_networks();
  });
  const int arch = writer->add_architecture(siren_architecture(r));

  std::vector<int64_t> missing;
  for (int64_t i = 0; i < r.count; ++i)
    if (!present[static_cast<std::size_t>(i)]) missing.push_back(i);

  auto last_flush = std::chrono::steady_clock::now();
  int64_t done = report.already_present, active = 0;
  train_sines(
      r, seed, missing, ctx,
      [&](SineResult&& res) {
        const int64_t index = writer->append(arch, res.params.data(),
                                             {{"frequency", res.frequency},
                                              {"amplitude", r.amplitude},
                                              {"final_loss", res.final_loss},
                                              {"steps", static_cast<double>(res.steps)}},
                                             {{"inr", static_cast<double>(res.inr)}});
        storage_of[static_cast<std::size_t>(res.inr)] = index;
        report.final_losses.push_back(res.final_loss);
        report.steps.push_back(res.steps);
        ++report.trained;
        ++done;
        const auto now = std::chrono::steady_clock::now();
        if (std::chrono::duration<double>(now - last_flush).count() >= flush_seconds) {
          writer->flush();
          last_flush = now;
        }
      },
      stop,
      [&](int64_t a) {
        active = a;
        if (progress) progress(done, r.count, active);
      });

  report.interrupted = report.already_present + report.trained < r.count;
  if (!report.interrupted) {
    // Splits by recipe index: a seeded permutation, the first test_count to test, the next to validation.
    const auto [n_test, n_val] = split_sizes(r);
    std::vector<int64_t> order(static_cast<std::size_t>(r.count));
    std::iota(order.begin(), order.end(), 0);
    uint64_t state = sine_inr_seed(seed, -1);
    for (std::size_t i = order.size(); i > 1; --i) {
      state = sine_inr_seed(static_cast<int64_t>(state & 0x7fffffffffffffffull), static_cast<int64_t>(i));
      std::swap(order[i - 1], order[state % i]);
    }
    std::vector<int64_t> test, validation, train;
    for (std::size_t k = 0; k < order.size(); ++k) {
      const int64_t index = storage_of[static_cast<std::size_t>(order[k])];
      (static_cast<int64_t>(k) < n_test ? test : static_cast<int64_t>(k) < n_test + n_val ? validation : train)
          .push_back(index);
    }
    writer->set_split("test", test);
    writer->set_split("validation", validation);
    writer->set_split("train", train);
    report.splits_written = true;
    report.test_count = n_test;
    report.validation_count = n_val;
  }
  writer->close();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace sne::generators
