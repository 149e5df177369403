#include "torch_catch.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/files.h"
#include "study/compare.h"
#include "study/evaluation.h"
#include "study/run_dir.h"
#include "study/transfer.h"
#include "train/scale_zoo.h"

using namespace sne;
namespace fs = std::filesystem;

namespace {

struct Toy {
  test::TempDir dir;
  std::string zoo = dir.file("toy.h5"), other = dir.file("other.h5");
  Toy() {
    test::write_scale_zoo(zoo);
    test::write_scale_zoo(other, 0.0, 4);  // another architecture, the same task
  }
};

const Toy& toy() {
  static Toy t;
  return t;
}

// The factory a study calls: the toy config, then the run's overrides (model=, run.seed=, ...).
study::ConfigFactory toy_factory(int64_t epochs = 2) {
  return [epochs](const std::vector<std::string>&, const std::vector<std::string>& overrides) {
    config::Config c = test::scale_config(toy().zoo);
    c.train.epochs = epochs;
    c.run.threads = 2;
    for (const auto& kv : overrides) {
      const auto eq = kv.find('=');
      const std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
      if (k == "model") c.model = v;
      else if (k == "run.seed") c.run.seed = std::stoll(v);
      else if (k == "zoo.path") c.zoo.path = v;
      else if (k == "task.train_fraction") c.task.train_fraction = std::stod(v);
      else FAIL("unexpected override " << kv);
    }
    return c;
  };
}

// Hooks that count the runs trained.
study::Hooks counting(int& trained, const Context& ctx) {
  study::Hooks h;
  h.train = [&trained, ctx](const config::Config& cfg, const std::string& dir, bool resume) {
    ++trained;
    train::TrainRequest rq;
    rq.config = cfg;
    rq.run_dir = dir;
    rq.resume = resume;
    return train::train(rq, ctx);
  };
  return h;
}

}  // namespace

TEST_CASE("the run directory's one rule: fresh, started, finished; early stopping finishes a run") {
  test::TempDir d;
  const Context ctx = make_context("cpu", 2, 0);
  config::Config c = toy_factory(1)({}, {"model=statnn"});
  const study::RunDir run(d.file("run"));
  CHECK(run.stage(c) == study::RunStage::fresh);
  CHECK_FALSE(run.exists());
  int trained = 0;
  const auto first = study::train_run(c, run, ctx, counting(trained, ctx));
  CHECK(trained == 1);
  CHECK(first.stage_before == study::RunStage::fresh);
  CHECK(first.epochs == 1);
  CHECK(first.networks_per_s > 0);
  CHECK(run.exists());
  CHECK(run.stage(c) == study::RunStage::finished);
  c.train.epochs = 2;
  CHECK(run.stage(c) == study::RunStage::started);
  const auto second = study::train_run(c, run, ctx, counting(trained, ctx));
  CHECK(trained == 2);
  CHECK(second.stage_before == study::RunStage::started);
  CHECK(second.epochs == 2);
  const auto third = study::train_run(c, run, ctx, counting(trained, ctx));
  CHECK(trained == 2);  // reused
  CHECK(third.stage_before == study::RunStage::finished);
  CHECK(third.networks_per_s == Approx(second.networks_per_s));  // from the log, not from this call

  Json state = Json::object();
  state.set("epoch", 3);
  state.set("stale_epochs", 2);
  c.train.epochs = 10;
  c.train.early_stopping_patience = 2;
  CHECK(study::training_finished(state, c));
  c.train.early_stopping_patience = 3;
  CHECK_FALSE(study::training_finished(state, c));
  c.train.early_stopping_patience = 0;
  CHECK_FALSE(study::training_finished(state, c));
}

TEST_CASE("a truncated or malformed metrics log is a data error naming the file and line") {
  test::TempDir d;
  fs::create_directories(d.file("run"));
  write_text_atomic(d.file("run/config.yaml"), "model: statnn\n");
  write_text_atomic(d.file("run/metrics.jsonl"),
                    "{\"epoch\": 1, \"validation\": {\"mse\": 1}}\n{\"epoch\": 2, \"valid");
  const study::RunDir run(d.file("run"));
  CHECK(run.exists());
  CHECK_THROWS_WITH(run.epochs(), Catch::Contains("metrics.jsonl line 2") &&
                                                    Catch::Contains("truncated"));
  write_text_atomic(d.file("run/metrics.jsonl"), "{\"epoch\": 1}\n");
  CHECK_THROWS_WITH(run.epochs(), Catch::Contains("line 1") &&
                                                    Catch::Contains("'validation'"));
  // A resume that trained epochs 2 and 3 again (killed after logging them, before checkpointing): once each.
  write_text_atomic(d.file("run/metrics.jsonl"),
                    "{\"epoch\": 1, \"validation\": {\"mse\": 1}}\n{\"epoch\": 2, \"validation\": {\"mse\": 2}}\n"
                    "{\"epoch\": 3, \"validation\": {\"mse\": 3}}\n{\"epoch\": 2, \"validation\": {\"mse\": 20}}\n"
                    "{\"epoch\": 3, \"validation\": {\"mse\": 30}}\n");
  const auto epochs = run.epochs();
  REQUIRE(epochs.size() == 3);
  CHECK(epochs[1].validation_mse == 20);
  CHECK(epochs[2].validation_mse == 30);
}

TEST_CASE("an evaluation is reused only for the very weights it was made from") {
  test::TempDir d;
  const Context ctx = make_context("cpu", 2, 0);
  config::Config c = toy_factory(1)({}, {"model=statnn", "run.seed=1"});
  const study::RunDir run(d.file("run"));
  study::train_run(c, run, ctx, {});
  study::EvaluationRequest rq;
  rq.invariance_samples = 1;
  const auto first = study::evaluate_run(run, "test", rq, ctx);
  // Trained afresh in the same folder with another seed: the same epoch and step, other weights. The stored
  // evaluation must not be served for them.
  std::error_code ec;
  remove_tree(d.file("run/checkpoints"), ec);
  fs::remove(d.file("run/metrics.jsonl"));
  c.run.seed = 2;
  study::train_run(c, run, ctx, {});
  const auto second = study::evaluate_run(run, "test", rq, ctx);
  CHECK(second.source.at("epoch") == first.source.at("epoch"));
  CHECK(second.source.at("step") == first.source.at("step"));
  CHECK(second.source.at("weights") != first.source.at("weights"));
  rq.checkpoint = run.best().string();
  CHECK(second.metrics.mse == study::evaluate(rq, ctx).metrics.mse);
  CHECK(second.metrics.mse != first.metrics.mse);
  // The right key over a damaged body: computed again, not an error.
  Json damaged = Json::parse(read_text(run.evaluation_file("test").string()));
  damaged.set("networks", "many");
  write_text_atomic(run.evaluation_file("test").string(), damaged.dump());
  CHECK(study::evaluate_run(run, "test", rq, ctx).metrics.mse == second.metrics.mse);
}

TEST_CASE("compare through the library: every variant and seed tested on one split, reused on rerun") {
  test::TempDir d;
  const Context ctx = make_context("cpu", 2, 0);
  study::CompareSpec spec;
  spec.config = toy_factory();
  spec.variants = {{"statnn", {}, {"model=statnn"}}, {"mlp", {}, {"model=mlp"}}};
  spec.seeds = {3, 4};
  spec.out = d.file("cmp");
  spec.invariance_samples = 1;
  int trained = 0;
  const auto r = study::run_compare(spec, ctx, counting(trained, ctx));
  CHECK(trained == 4);
  REQUIRE(r.rows.size() == 4);
  for (const auto& row : r.rows) {
    CHECK(row.test.metrics.count == 8);  // the toy's test split
    CHECK(row.test.predicted.size() == 8);
    CHECK(row.run.epochs == 2);
    CHECK(fs::exists(fs::path(row.run.dir) / "evaluations" / "test.json"));
  }
  CHECK(r.rows[0].run.dir == (fs::path(spec.out) / "statnn" / "seed-3").string());
  // Seeds differ, so their metrics do, and the table shows mean ± std.
  CHECK(r.cell("statnn", 1.0).size() == 2);
  CHECK(r.rows[0].test.metrics.mse != r.rows[1].test.metrics.mse);
  CHECK(r.markdown().find("±") != std::string::npos);
  CHECK(r.markdown().find("(2 planned)") != std::string::npos);

  const auto again = study::run_compare(spec, ctx, counting(trained, ctx));
  CHECK(trained == 4);  // nothing trained again
  CHECK(again.to_json() == r.to_json());
  CHECK(again.markdown() == r.markdown());
  CHECK(read_text(spec.out + "/compare.md") == r.markdown());
  const auto loaded = study::CompareResult::from_json(Json::parse(read_text(spec.out + "/compare.json")), "compare.json");
  CHECK(loaded.to_json() == r.to_json());
  CHECK(loaded.rows[2].test.metrics.kendall_tau == r.rows[2].test.metrics.kendall_tau);

  // A run continued elsewhere (its best checkpoint changed) is evaluated again, not served from the cache.
  const study::RunDir first(r.rows[0].run.dir);
  Json cached = Json::parse(read_text(first.evaluation_file("test").string()));
  Json stale_source = cached.at("source");
  stale_source.set("step", 999);
  CHECK_FALSE(first.cached_evaluation("test", stale_source));
  CHECK(first.cached_evaluation("test", cached.at("source")));

  // A row whose best checkpoint is gone is reported as not tested; the other rows and seeds stand.
  std::error_code ec;
  remove_tree((fs::path(r.rows[0].run.dir) / "checkpoints" / "best").string(), ec);
  const auto partial = study::run_compare(spec, ctx, counting(trained, ctx));
  CHECK(trained == 4);
  REQUIRE(partial.rows.size() == 4);
  CHECK_FALSE(partial.rows[0].test.applicable());
  CHECK(partial.rows[0].test.error.find("no best checkpoint") != std::string::npos);
  CHECK(std::isnan(partial.rows[0].test.metrics.mse));
  CHECK(partial.rows[1].test.metrics.mse == r.rows[1].test.metrics.mse);
  CHECK(partial.markdown().find("| statnn | 1 | 1 | " + study::format_spread(study::spread({r.rows[1].test.metrics.mse}), -4)) !=
        std::string::npos);
  const auto reloaded =
      study::CompareResult::from_json(Json::parse(read_text(spec.out + "/compare.json")), "compare.json");
  CHECK(std::isnan(reloaded.rows[0].test.metrics.mse));
  CHECK(reloaded.markdown() == partial.markdown());
}

TEST_CASE("an ablation study runs only the rows asked for and reports the others once finished") {
  test::TempDir d;
  fs::create_directories(d.file("rows"));
  write_text_atomic(d.file("rows/full.yaml"), "model: statnn\n");
  write_text_atomic(d.file("rows/no_type.yaml"), "model: mlp\n");
  const auto variants = study::ablation_variants(d.file("rows"));
  REQUIRE(variants.size() == 2);
  CHECK(variants[0].name == "full");
  CHECK_THROWS_AS(study::ablation_variants(d.file("absent")), UsageError);
  const Context ctx = make_context("cpu", 2, 0);
  study::CompareSpec spec;
  spec.kind = "ablation";
  spec.config = toy_factory();
  spec.variants = {{"full", {}, {"model=statnn"}}, {"no_type", {}, {"model=mlp"}}};
  spec.out = d.file("abl");
  spec.only = {"no_type"};
  int trained = 0;
  auto r = study::run_compare(spec, ctx, counting(trained, ctx));
  CHECK(trained == 1);
  REQUIRE(r.rows.size() == 1);
  CHECK(r.rows[0].variant == "no_type");
  CHECK(r.markdown().find("| full | 1 | 0 | not run") != std::string::npos);
  CHECK(fs::exists(spec.out + "/ablation.json"));
  spec.only.clear();
  r = study::run_compare(spec, ctx, counting(trained, ctx));
  CHECK(trained == 2);
  CHECK(r.rows.size() == 2);
}

TEST_CASE("transfer through the library: the tau matrix, unseen architectures marked, unreadable cells kept") {
  test::TempDir d;
  const Context ctx = make_context("cpu", 2, 0);
  study::TransferSpec spec;
  spec.config = toy_factory();
  spec.models = {"statnn", "mlp"};
  spec.train_zoos = {toy().zoo, toy().other};
  spec.out = d.file("tr");
  int trained = 0;
  const auto r = study::run_transfer(spec, ctx, counting(trained, ctx));
  CHECK(trained == 4);
  CHECK(r.train_names == std::vector<std::string>{"toy", "other"});
  REQUIRE(r.tables.size() == 2);
  const auto& statnn = r.tables[0];
  for (std::size_t t = 0; t < 2; ++t)
    for (std::size_t e = 0; e < 2; ++e) {
      const auto& x = statnn.at(t, e, 2);
      CHECK(x.same_zoo == (t == e));
      CHECK(x.unseen_architecture == (t != e));  // the two zoos have different architectures
      REQUIRE(x.applicable());
      CHECK(std::abs(x.tau().mean) <= 1.0);
    }
  const double mean = (statnn.at(0, 0, 2).tau().mean + statnn.at(0, 1, 2).tau().mean) / 2;
  CHECK(r.row_average(statnn, 0, false) == Approx(mean));
  CHECK(r.row_average(statnn, 0, true) == Approx(statnn.at(0, 1, 2).tau().mean));
  // The MLP baseline cannot read the other architecture: the cell says why.
  const auto& mlp = r.tables[1];
  CHECK(mlp.at(0, 0, 2).applicable());
  REQUIRE_FALSE(mlp.at(0, 1, 2).applicable());
  CHECK(mlp.at(0, 1, 2).seeds[0].eval.error.find("parameters") != std::string::npos);
  CHECK(r.markdown().find("n/a") != std::string::npos);
  CHECK(r.markdown().find("†") != std::string::npos);

  const auto again = study::run_transfer(spec, ctx, counting(trained, ctx));
  CHECK(trained == 4);
  CHECK(again.to_json() == r.to_json());
  const auto loaded =
      study::TransferResult::from_json(Json::parse(read_text(spec.out + "/transfer.json")), "transfer.json");
  CHECK(loaded.to_json() == r.to_json());
  CHECK_THROWS_WITH(study::TransferResult::from_json(Json::parse("{\"kind\": \"transfer\"}"), "t.json"),
                    Catch::Contains("t.json: not a transfer result"));
}

TEST_CASE("--seeds: a count counts up from the first seed, a list is taken as it is") {
  CHECK(study::parse_seeds("3", 7) == std::vector<int64_t>{7, 8, 9});
  CHECK(study::parse_seeds("0,5", 7) == std::vector<int64_t>{0, 5});
  CHECK_THROWS_AS(study::parse_seeds("0", 0), UsageError);
  CHECK_THROWS_AS(study::parse_seeds("a", 0), UsageError);
  CHECK_THROWS_AS(study::parse_seeds("1,-2", 0), UsageError);
  CHECK_THROWS_WITH(study::parse_seeds("1,2,1", 0), Catch::Contains("seed 1 is listed twice"));
  const auto s = study::spread({1.0, 2.0, 3.0, NAN});
  CHECK(s.count == 3);
  CHECK(s.mean == Approx(2.0));
  CHECK(s.std == Approx(1.0));
  CHECK(study::format_spread(s, 2) == "2.00 ± 1.00");
  CHECK(study::format_spread(study::spread({0.5}), 3) == "0.500");
  CHECK(study::format_spread(study::spread({}), 3) == "-");
}
