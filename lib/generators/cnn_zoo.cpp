#include "generators/cnn_zoo.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include "core/error.h"
#include "core/strings.h"
#include "core/version.h"
#include "generators/zoo_output.h"
#include "zoo/zoo_file.h"
#include "zoo/zoo_writer.h"

namespace sne::generators {
namespace {

constexpr const char* kGeneratorName = "cnn";

}  // namespace

namespace {

Json provenance_for(const CnnRecipe& r, int64_t seed, const data::Dataset& d, const zoo::ArchitectureSpec& spec) {
  Json p = Json::object();
  p.set("kind", "generator");
  p.set("name", kGeneratorName);
  p.set("description", "image classifiers with per-network sampled hyper-parameters (Unterthiner et al. 2020 style)");
  p.set("recipe", cnn_recipe_json(r, seed));
  Json data = Json::object();
  data.set("dir", d.dir);
  data.set("train_images", d.train.count);
  data.set("test_images", d.test.count);
  data.set("image", Json(std::vector<Json>{Json(d.train.channels), Json(d.train.height), Json(d.train.width)}));
  p.set("data", data);
  p.set("architecture", spec.name);
  const CnnRecipe full = [] {
    CnnRecipe f = config::defaults().generate.cnn;
    return f;
  }();
  std::vector<std::string> reduced;
  if (r.epochs < full.epochs) reduced.push_back(std::to_string(r.epochs) + " epochs instead of " + std::to_string(full.epochs));
  if (r.train_examples > 0 && r.train_examples < d.train.count)
    reduced.push_back("the first " + std::to_string(r.train_examples) + " of " + std::to_string(d.train.count) + " training images");
  if (r.test_examples > 0 && r.test_examples < d.test.count)
    reduced.push_back("test accuracy on the first " + std::to_string(r.test_examples) + " of " + std::to_string(d.test.count) + " test images");
  p.set("reduced_recipe", reduced.empty() ? std::string("no: the full recipe") : join(reduced, "; "));
  p.set("generated_by", std::string("sne ") + kVersion);
  return p;
}


}  // namespace

CnnZooReport generate_cnn_zoo(const CnnRecipe& r, int64_t seed, const std::string& path, const Context& ctx,
                              const std::atomic<bool>* stop, const std::function<void(int64_t, int64_t)>& progress,
                              const std::function<void(double, int64_t)>& estimate) {
  const auto t0 = std::chrono::steady_clock::now();
  const CnnChoices choices = parse_cnn_choices(r);
  const data::Dataset dataset = data::load_dataset(r.dataset, r.data_dir, r.grayscale);
  const auto spec = cnn_architecture(r, dataset.train.channels, dataset.train.height, dataset.train.width, dataset.classes);
  CnnZooReport report;
  report.total_runs = r.count;
  report.architecture = spec.name;
  report.num_params = spec.num_params();
  Json provenance = provenance_for(r, seed, dataset, spec);
  const auto per_run = static_cast<int64_t>(choices.checkpoint_epochs.size());
  provenance.set("networks_expected", static_cast<long long>(r.count * per_run));  // zoo validate: stopped short?

  // Runs already in the file: every checkpoint row of a run must be there (runs are flushed whole).
  std::map<int64_t, std::map<int64_t, int64_t>> stored;  // run -> epoch -> network index
  double seconds_before = 0;
  auto writer = open_generator_output(path, provenance, kGeneratorName, [&](const zoo::ZooFile& existing) {
    if (const Json* g = existing.provenance().find("generation_seconds")) seconds_before = g->as_number();
    if (existing.num_networks() > 0) {
      const auto run = existing.metadata("run").numbers;
      const auto step = existing.property("step");
      for (std::size_t i = 0; i < run.size(); ++i) {
        const auto k = static_cast<int64_t>(run[i]);
        if (!(k >= 0 && k < r.count) || stored[k].count(static_cast<int64_t>(step[i])))
          throw DataError(path + ": network " + std::to_string(i) + " has an invalid or repeated (run, step)");
        stored[k][static_cast<int64_t>(step[i])] = static_cast<int64_t>(i);
      }
      for (const auto& [k, steps] : stored)
        if (static_cast<int64_t>(steps.size()) != per_run)
          throw DataError(path + ": run " + std::to_string(k) + " has " + std::to_string(steps.size()) + " of its " +
                          std::to_string(per_run) + " checkpoints; the file is damaged (regenerate it)");
    }
    report.already_present = static_cast<int64_t>(stored.size());
  });
  const int arch = writer->add_architecture(spec);

  // Missing runs, ordered by training fraction so a batch shares its number of steps per epoch.
  std::vector<CnnRun> missing;
  for (int64_t k = 0; k < r.count; ++k)
    if (!stored.count(k)) missing.push_back(sample_cnn_run(r, choices, seed, k));
  std::stable_sort(missing.begin(), missing.end(),
                   [](const CnnRun& a, const CnnRun& b) { return a.train_fraction < b.train_fraction; });

  const CnnData data = prepare_cnn_data(dataset, r, ctx);
  const int64_t epochs = std::max<int64_t>(1, r.epochs), total = r.count * epochs;
  int64_t done = report.already_present * epochs;
  if (progress) progress(done, total);

  // The missing runs in batches of `parallel`; the calibration's step count: what they all need.
  std::vector<std::vector<CnnRun>> batches;
  for (std::size_t b0 = 0; b0 < missing.size(); b0 += static_cast<std::size_t>(r.parallel))
    batches.emplace_back(missing.begin() + static_cast<std::ptrdiff_t>(b0),
                         missing.begin() + static_cast<std::ptrdiff_t>(std::min(missing.size(), b0 + static_cast<std::size_t>(r.parallel))));
  int64_t steps_needed = 0;
  for (const auto& b : batches) steps_needed += r.epochs * cnn_batch_steps(b, data.train_x.size(0), r.batch_size);
  int64_t steps_seen = 0;
  std::chrono::steady_clock::time_point calib_start;
  const auto on_step = [&] {
    ++steps_seen;
    if (steps_seen == 1) calib_start = std::chrono::steady_clock::now();  // after the warm-up step
    if (steps_seen == 1 + kCalibrationSteps && estimate) {
      const double per_step = std::chrono::duration<double>(std::chrono::steady_clock::now() - calib_start).count() /
                              static_cast<double>(kCalibrationSteps);
      estimate(per_step * static_cast<double>(steps_needed), steps_needed);
    }
  };

  for (const auto& batch : batches) {
    if (stop && stop->load()) break;
    const auto nb = static_cast<int64_t>(batch.size());
    const auto results = train_cnn_runs(spec, r, choices, batch, data, ctx, stop, [&](int64_t epoch) {
      if (progress) progress(done + nb * epoch, total);
    }, "auto", on_step);
    if (results.empty()) break;  // stopped
    for (const auto& res : results) {
      const auto& run = res.run;
      for (const auto& cp : res.checkpoints) {
        const int64_t index = writer->append(
            arch, cp.params.data(),
            {{"step", static_cast<double>(cp.epoch)},
             {"test_accuracy", cp.test_accuracy},
             {"test_loss", cp.test_loss},
             {"train_accuracy", cp.train_accuracy},
             {"train_loss", cp.train_loss}},
            {{"run", static_cast<double>(run.run)},
             {"activation", activation_names()[static_cast<std::size_t>(run.activation)]},
             {"optimizer", run.optimizer},
             {"init", run.init},
             {"lr", run.lr},
             {"l2", run.l2},
             {"dropout", run.dropout},
             {"init_std", run.init_std},
             {"train_fraction", run.train_fraction},
             {"diverged_epoch", res.diverged_epoch >= 0 ? static_cast<double>(res.diverged_epoch) : NAN},
             {"dataset", r.dataset}});
        stored[run.run][cp.epoch] = index;
      }
      report.final_test_accuracy.push_back(res.checkpoints.back().test_accuracy);
      if (res.diverged_epoch >= 0) ++report.diverged;
      ++report.trained;
    }
    writer->flush();
    done += nb * epochs;
    if (progress) progress(done, total);
  }

  report.interrupted = static_cast<int64_t>(stored.size()) < r.count;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  provenance.set("generation_seconds", seconds_before + report.seconds);
  provenance.set("generation_device", ctx.device + ", " + std::to_string(ctx.threads) + " threads");
  writer->set_provenance(provenance);
  if (!report.interrupted) {
    // Splits by run (a run's checkpoints never straddle splits): a seeded permutation of the runs.
    std::vector<int64_t> order(static_cast<std::size_t>(r.count));
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(mix_seed(static_cast<uint64_t>(seed) ^ 0x73706c6974ull));
    std::shuffle(order.begin(), order.end(), rng);
    const auto n_test = static_cast<int64_t>(std::llround(r.test_fraction * static_cast<double>(r.count)));
    const auto n_val = static_cast<int64_t>(std::llround(r.validation_fraction * static_cast<double>(r.count)));
    std::vector<int64_t> test, validation, train, train_all;
    const int64_t last = choices.checkpoint_epochs.back();
    for (std::size_t k = 0; k < order.size(); ++k) {
      const auto& steps = stored.at(order[k]);
      const auto pos = static_cast<int64_t>(k);
      auto& split = pos < n_test ? test : pos < n_test + n_val ? validation : train;
      split.push_back(steps.at(last));
      if (&split == &train)
        for (const auto& [epoch, index] : steps) train_all.push_back(index);
    }
    writer->set_split("test", test);
    writer->set_split("validation", validation);
    writer->set_split("train", train);
    writer->set_split("train_all_steps", train_all);
    report.splits_written = true;
    report.test_runs = n_test;
    report.validation_runs = n_val;
    report.train_runs = r.count - n_test - n_val;
  }
  report.networks = writer->num_networks();
  writer->close();
  return report;
}

}  // namespace sne::generators
