#include "train/state.h"

#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/strings.h"

namespace sne::train {

Json TrainingState::to_json(const std::string& property, const std::string& zoo) const {
  std::ostringstream r;
  r << rng;
  Json s = Json::object();
  s.set("epoch", static_cast<long long>(epoch));
  s.set("batch_in_epoch", static_cast<long long>(batch_in_epoch));
  s.set("step", static_cast<long long>(step));
  s.set("stale_epochs", static_cast<long long>(stale_epochs));
  s.set("epoch_loss_sum", epoch_loss_sum);
  s.set("epoch_invariance_sum", epoch_invariance_sum);
  s.set("epoch_batches", static_cast<long long>(epoch_batches));
  s.set("data_shards", static_cast<long long>(data_shards));
  s.set("world_size", static_cast<long long>(world_size));
  s.set("best_metric", has_best && std::isfinite(best_metric) ? Json(best_metric) : Json());
  s.set("best_record", best_record);
  s.set("rng", r.str());
  s.set("value_normalizer", values.to_json());
  s.set("target_scaler", targets.to_json());
  s.set("model_shape", shape.to_json());
  s.set("property", property);
  s.set("zoo", zoo);
  return s;
}

TrainingState TrainingState::from_json(const Json& s, const std::string& file) {
  const auto member = [&](const char* key) -> const Json& {
    const Json* m = s.find(key);
    if (!m) throw CheckpointError(file + ": missing member '" + key + "'");
    return *m;
  };
  const auto counter = [&](const char* key) {
    const Json& m = member(key);
    if (!m.is_number() || m.as_number() < 0 || m.as_number() != std::floor(m.as_number()))
      throw CheckpointError(file + ": member '" + key + "' must be a non-negative integer, got " + m.dump());
    return static_cast<int64_t>(m.as_int());
  };
  const auto number = [&](const char* key) {
    const Json& m = member(key);
    if (!m.is_number() || !std::isfinite(m.as_number()))
      throw CheckpointError(file + ": member '" + key + "' must be a finite number, got " + m.dump());
    return m.as_number();
  };
  TrainingState t;
  try {
    t.epoch = counter("epoch");
    t.batch_in_epoch = counter("batch_in_epoch");
    t.step = counter("step");
    t.stale_epochs = counter("stale_epochs");
    t.epoch_loss_sum = number("epoch_loss_sum");
    t.epoch_invariance_sum = number("epoch_invariance_sum");
    t.epoch_batches = counter("epoch_batches");
    // States from before data parallelism have neither: one shard, one process.
    if (s.find("data_shards")) t.data_shards = counter("data_shards");
    if (s.find("world_size")) t.world_size = counter("world_size");
    if (t.data_shards < 1 || t.world_size < 1)
      throw CheckpointError(file + ": members 'data_shards' and 'world_size' must be at least 1");
    const Json& best = member("best_metric");
    t.has_best = best.is_number();
    if (t.has_best) t.best_metric = best.as_number();
    if (const Json* br = s.find("best_record")) t.best_record = *br;
    std::istringstream r(member("rng").as_string());
    r >> t.rng;
    if (r.fail()) throw CheckpointError(file + ": member 'rng' is not a saved random generator state");
    t.values = ValueNormalizer::from_json(member("value_normalizer"));
    t.targets = TargetScaler::from_json(member("target_scaler"));
    t.shape = ModelShape::from_json(s.find("model_shape"));
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::exception& e) {
    throw CheckpointError(file + ": not a training state this sne reads (" + e.what() + ")");
  }
  return t;
}

void TrainingState::require_finite_loss(double lr, double grad_clip) const {
  if (std::isfinite(epoch_loss_sum)) return;
  throw ConfigError("training diverged in epoch " + std::to_string(epoch + 1) + " (step " + std::to_string(step) +
                    "): the training loss is " + (std::isnan(epoch_loss_sum) ? "NaN" : "infinite") +
                    "; lower train.lr (now " + format_number(lr) + ") or keep train.grad_clip on (now " +
                    format_number(grad_clip) + "). " +
                    (epoch > 0 ? "checkpoints/last holds epoch " + std::to_string(epoch) + ", unchanged"
                               : std::string("No checkpoint was written")));
}

}  // namespace sne::train
