// The training state a checkpoint resumes from, and the batch preparation the training step reads.
#include "torch_catch.h"

#include "core/error.h"
#include "core/files.h"
#include "train/batch.h"
#include "train/metrics_log.h"
#include "train/state.h"
#include "zoo/fixtures.h"
#include "zoo/symmetry.h"

using namespace sne;

TEST_CASE("the training state survives its JSON form, RNG included") {
  train::TrainingState s;
  s.epoch = 3, s.batch_in_epoch = 2, s.step = 17, s.stale_epochs = 1;
  s.epoch_loss_sum = 0.75, s.epoch_invariance_sum = 1e-9, s.epoch_batches = 2;
  s.best_metric = 0.5, s.has_best = true;
  s.rng.seed(42);
  s.rng();  // mid-stream
  const train::TrainingState r = train::TrainingState::from_json(s.to_json("frequency", "z.h5"), "state.json");
  CHECK(r.epoch == 3);
  CHECK(r.batch_in_epoch == 2);
  CHECK(r.step == 17);
  CHECK(r.stale_epochs == 1);
  CHECK(r.epoch_loss_sum == 0.75);
  CHECK(r.epoch_batches == 2);
  CHECK(r.has_best);
  CHECK(r.best_metric == 0.5);
  train::TrainingState copy = s;
  CHECK(copy.rng() == train::TrainingState(r).rng());
}

TEST_CASE("a nonsensical training state is refused, naming the file and the member") {
  train::TrainingState s;
  Json j = s.to_json("p", "z.h5");
  SECTION("a negative epoch") {
    j.set("epoch", -1);
    CHECK_THROWS_MATCHES(train::TrainingState::from_json(j, "run/state.json"), CheckpointError,
                         Catch::Matchers::Predicate<CheckpointError>([](const CheckpointError& e) {
                           const std::string w = e.what();
                           return w.find("run/state.json") != std::string::npos && w.find("'epoch'") != std::string::npos &&
                                  w.find("non-negative") != std::string::npos;
                         }));
  }
  SECTION("a fractional step") {
    j.set("step", 2.5);
    CHECK_THROWS_WITH(train::TrainingState::from_json(j, "run/state.json"), Catch::Contains("'step'"));
  }
  SECTION("a missing member") {
    Json k = Json::object();
    k.set("epoch", 0);
    CHECK_THROWS_WITH(train::TrainingState::from_json(k, "run/state.json"),
                      Catch::Contains("run/state.json") && Catch::Contains("missing member"));
  }
  SECTION("an unreadable RNG") {
    j.set("rng", "not a generator");
    CHECK_THROWS_WITH(train::TrainingState::from_json(j, "run/state.json"), Catch::Contains("'rng'"));
  }
}

TEST_CASE("a transformed batch is the normalised batch with each network's weights permuted") {
  test::TempDir dir;
  const std::string path = dir.file("z.h5");
  {
    auto w = zoo::ZooWriter::create(path, Json::object());
    const int a = w->add_architecture(test::mlp_spec("mlp", 2, 4, 1));
    for (int i = 0; i < 3; ++i) {
      const torch::Tensor p = torch::randn({w->architectures()[0].num_params()});
      w->append(a, p.data_ptr<float>(), {{"y", 1.0 * i}});
    }
    w->set_split("train", {0, 1, 2});
    w->close();
  }
  auto z = zoo::ZooFile::open(path);
  zoo::ZooStream stream(z, [] {
    zoo::StreamOptions o;
    o.split = "train";
    o.batch_size = 3;
    return o;
  }());
  zoo::NetworkBatch b;
  REQUIRE(stream.next(b));
  train::ValueNormalizer none;
  train::BatchPreparer prep(*z, none, nullptr, 2, torch::kCPU);
  const train::PreparedBatch pb = prep.prepare(b);
  std::mt19937_64 rng(5), again(5);
  const encoder::EncoderInput t = prep.transformed(pb, rng);
  // The old way: transform the raw weights, then prepare the whole batch again.
  zoo::NetworkBatch raw = b;
  for (int64_t i = 0; i < b.size(); ++i)
    zoo::random_symmetry_transform(z->architectures()[0], again, raw.params.data() + b.offset[static_cast<std::size_t>(i)]);
  CHECK(torch::equal(t.chunks.values, prep.prepare(raw).input.chunks.values));
  CHECK_FALSE(torch::equal(t.chunks.values, pb.input.chunks.values));
}

TEST_CASE("resuming cuts metrics.jsonl back to the checkpoint's epochs: later, repeated and torn records go") {
  test::TempDir dir;
  const std::string path = dir.file("metrics.jsonl");
  // What a kill can leave: epoch 3's record logged without its checkpoint, then a rerun's epoch 3 again and a
  // line the last kill cut short.
  write_text_atomic(path, "{\"epoch\":1,\"a\":1}\n{\"epoch\":2}\n{\"epoch\":3}\n{\"epoch\":3}\n{\"epo");
  train::trim_metrics_log(path, 2);
  CHECK(read_text(path) == "{\"epoch\":1,\"a\":1}\n{\"epoch\":2}\n");
  train::trim_metrics_log(path, 2);  // nothing to drop: unchanged
  CHECK(read_text(path) == "{\"epoch\":1,\"a\":1}\n{\"epoch\":2}\n");
  write_text_atomic(path, "{\"epoch\":1}\n{\"epoch\":1}\n{\"epoch\":2}\n");
  train::trim_metrics_log(path, 5);
  CHECK(read_text(path) == "{\"epoch\":1}\n{\"epoch\":2}\n");
  train::trim_metrics_log(dir.file("missing.jsonl"), 1);  // a missing log stays missing
  CHECK_FALSE(std::filesystem::exists(dir.file("missing.jsonl")));
}

TEST_CASE("an epoch whose training loss is NaN or infinite stops the run with the settings to change") {
  train::TrainingState s;
  s.epoch = 4, s.step = 40, s.epoch_loss_sum = 1.5;
  CHECK_NOTHROW(s.require_finite_loss(0.5, 1.0));
  s.epoch_loss_sum = std::nan("");
  CHECK_THROWS_AS(s.require_finite_loss(0.5, 1.0), ConfigError);
  CHECK_THROWS_WITH(s.require_finite_loss(0.5, 0.0),
                    Catch::Contains("training diverged in epoch 5 (step 40): the training loss is NaN; lower "
                                    "train.lr (now 0.5) or keep train.grad_clip on (now 0)") &&
                        Catch::Contains("checkpoints/last holds epoch 4, unchanged"));
  s.epoch = 0, s.epoch_loss_sum = HUGE_VAL;
  CHECK_THROWS_WITH(s.require_finite_loss(0.5, 1.0), Catch::Contains("infinite") && Catch::Contains("No checkpoint"));
}
