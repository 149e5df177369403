#include "study/evaluation.h"

#include <sys/stat.h>

#include <cmath>

#include "config/config.h"
#include "core/error.h"
#include "core/files.h"
#include "study/study.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "zoo/zoo_file.h"

namespace sne::study {
namespace {

// The zoo and split a request names, filled in from the checkpoint's config where it leaves them out.
std::pair<std::string, std::string> zoo_and_split(const EvaluationRequest& rq, const std::string& config_yaml) {
  if (!rq.zoo.empty() && !rq.split.empty()) return {rq.zoo, rq.split};
  config::Config c;
  try {
    c = config::resolve({{rq.checkpoint + "/config.yaml", config_yaml, true}}, {});
  } catch (const ConfigError& e) {
    throw CheckpointError(rq.checkpoint + "/config.yaml: not a config this sne reads (" + std::string(e.what()) + ")");
  }
  return {rq.zoo.empty() ? c.zoo.path : rq.zoo, rq.split.empty() ? c.task.test_split : rq.split};
}

}  // namespace

void Evaluation::set_unavailable(const std::string& why) {
  error = why;
  metrics.mse = metrics.mae = metrics.r2 = metrics.kendall_tau = metrics.spearman_rho = NAN;
  metrics.count = 0;
  invariance_error = mean_predictor_mse = NAN;
}

Json Evaluation::to_json(bool with_predictions) const {
  Json j = Json::object();
  if (applicable()) {
    j = metrics::to_json(metrics);
    for (const char* k : {"mse", "mae", "r2", "kendall_tau", "spearman_rho"})  // NaN is not JSON
      j.set(k, finite_or_null(number_or_nan(j, k)));
  }
  j.set("checkpoint", checkpoint);
  j.set("model", model);
  j.set("parameters", static_cast<long long>(parameters));
  j.set("zoo", zoo);
  j.set("split", split);
  j.set("property", property);
  if (!applicable()) {
    j.set("error", error);
  } else {
    j.set("networks", static_cast<long long>(metrics.count));
    j.set("invariance_error", finite_or_null(invariance_error));
    j.set("invariance_samples", static_cast<long long>(invariance_samples));
    j.set("unknown_skipped", static_cast<long long>(unknown_skipped));
    j.set("mean_predictor_mse", finite_or_null(mean_predictor_mse));
    if (with_predictions) {
      Json p = Json::object(), idx = Json::array(), t = Json::array(), y = Json::array();
      for (std::size_t k = 0; k < index.size(); ++k) {
        idx.push_back(static_cast<long long>(index[k]));
        t.push_back(finite_or_null(truth[k]));
        y.push_back(finite_or_null(predicted[k]));
      }
      p.set("index", idx);
      p.set("truth", t);
      p.set("predicted", y);
      j.set("predictions", p);
    }
  }
  if (!source.is_null()) j.set("source", source);
  return j;
}

Evaluation Evaluation::from_json(const Json& j, const std::string& what) {
  Evaluation e;
  try {
    e.checkpoint = j.at("checkpoint").as_string();
    e.model = j.at("model").as_string();
    e.zoo = j.at("zoo").as_string();
    e.split = j.at("split").as_string();
    e.property = j.at("property").as_string();
    e.parameters = j.at("parameters").as_int();
    if (const Json* err = j.find("error")) {
      e.error = err->as_string();
      e.set_unavailable(e.error);
    } else {
      e.metrics.mse = number_or_nan(j, "mse");
      e.metrics.mae = number_or_nan(j, "mae");
      e.metrics.r2 = number_or_nan(j, "r2");
      e.metrics.kendall_tau = number_or_nan(j, "kendall_tau");
      e.metrics.spearman_rho = number_or_nan(j, "spearman_rho");
      e.metrics.count = j.at("networks").as_int();
      e.invariance_error = number_or_nan(j, "invariance_error");
      e.invariance_samples = j.at("invariance_samples").as_int();
      e.unknown_skipped = j.at("unknown_skipped").as_int();
      e.mean_predictor_mse = number_or_nan(j, "mean_predictor_mse");
      if (const Json* p = j.find("predictions")) {
        const auto& idx = p->at("index").as_array();
        const auto& t = p->at("truth").as_array();
        const auto& y = p->at("predicted").as_array();
        if (t.size() != idx.size() || y.size() != idx.size()) throw std::runtime_error("predictions of unequal lengths");
        for (std::size_t k = 0; k < idx.size(); ++k) {
          e.index.push_back(idx[k].as_int());
          e.truth.push_back(t[k].is_number() ? t[k].as_number() : NAN);
          e.predicted.push_back(y[k].is_number() ? y[k].as_number() : NAN);
        }
      }
    }
    if (const Json* s = j.find("source")) e.source = *s;
  } catch (const std::exception& x) {
    throw DataError(what + ": not an evaluation record (" + x.what() + ")");
  }
  return e;
}

namespace {

// What identifies the checkpoint's weights: model.pt's CRC-32 from manifest.json (read_checkpoint has checked
// it), or, for a checkpoint without a manifest, model.pt's size and modification time. Two trainings that reach
// the same epoch and step in one run directory differ here.
Json weights_fingerprint(const std::string& checkpoint) {
  const std::string manifest = checkpoint + "/manifest.json";
  struct stat st {};
  if (::stat(manifest.c_str(), &st) == 0) {
    try {
      const Json m = Json::parse(read_text(manifest));
      if (const Json* e = m.find("model.pt"); e && e->is_object())
        if (const Json* crc = e->find("crc32"); crc && crc->is_string()) return *crc;
    } catch (const std::exception&) {
    }
  }
  const std::string model = checkpoint + "/model.pt";
  if (::stat(model.c_str(), &st) != 0) return Json();
  return Json(std::to_string(st.st_size) + "@" +
              std::to_string(static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec));
}

}  // namespace

Json evaluation_source(const EvaluationRequest& rq, int64_t seed) {
  const auto ck = train::read_checkpoint(rq.checkpoint);
  const auto [zoo, split] = zoo_and_split(rq, ck.config_yaml);
  Json s = Json::object();
  s.set("checkpoint", rq.checkpoint);
  s.set("epoch", ck.state.find("epoch") ? ck.state.at("epoch") : Json());
  s.set("step", ck.state.find("step") ? ck.state.at("step") : Json());
  s.set("weights", weights_fingerprint(rq.checkpoint));
  s.set("seed", static_cast<long long>(seed));  // the symmetry samples of the invariance error
  s.set("zoo", zoo);
  struct stat st {};
  if (::stat(zoo.c_str(), &st) == 0) {  // a regenerated zoo is evaluated again
    s.set("zoo_bytes", static_cast<long long>(st.st_size));
    s.set("zoo_mtime_ns", static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec);
  }
  s.set("split", split);
  s.set("invariance_samples", static_cast<long long>(rq.invariance_samples));
  return s;
}

Evaluation evaluate(const EvaluationRequest& rq, const Context& ctx) {
  auto m = train::load_model(rq.checkpoint, ctx);
  Evaluation e;
  e.checkpoint = rq.checkpoint;
  e.model = m.config.model;
  e.zoo = rq.zoo.empty() ? m.config.zoo.path : rq.zoo;
  e.split = rq.split.empty() ? m.config.task.test_split : rq.split;
  e.property = m.config.task.property;
  e.parameters = train::count_parameters(*m.model);
  e.invariance_samples = rq.invariance_samples;
  auto z = zoo::ZooFile::open(e.zoo);
  auto p = train::predict(m, z, e.split, ctx, rq.invariance_samples, static_cast<uint64_t>(ctx.seed));
  e.metrics = metrics::evaluate(p.predicted, p.truth);
  const double mean = m.targets.loss == "mse" ? m.targets.mean : 0.5;
  e.mean_predictor_mse = metrics::evaluate(std::vector<double>(p.truth.size(), mean), p.truth).mse;
  e.invariance_error = p.invariance_error;
  e.unknown_skipped = p.unknown_skipped;
  e.index = std::move(p.index);
  e.truth = std::move(p.truth);
  e.predicted = std::move(p.predicted);
  return e;
}

Evaluation evaluate_run(const RunDir& run, const std::string& name, EvaluationRequest rq, const Context& ctx,
                        bool tolerate_unreadable) {
  rq.checkpoint = run.best().string();
  const Json source = evaluation_source(rq, ctx.seed);
  if (auto cached = run.cached_evaluation(name, source)) {
    try {
      return Evaluation::from_json(*cached, run.evaluation_file(name).string());
    } catch (const DataError&) {  // the right key but a damaged body: computed again below
    }
  }
  Evaluation e;
  try {
    e = evaluate(rq, ctx);
  } catch (const Error& x) {
    const bool unreadable = x.kind() == ErrorKind::data || x.kind() == ErrorKind::checkpoint || x.kind() == ErrorKind::config;
    if (!tolerate_unreadable || !unreadable) throw;
    const auto m = train::read_checkpoint(rq.checkpoint);
    e.checkpoint = rq.checkpoint;
    e.zoo = source.at("zoo").as_string();
    e.split = source.at("split").as_string();
    e.set_unavailable(x.what());
    try {
      const auto c = config::resolve({{rq.checkpoint + "/config.yaml", m.config_yaml, true}}, {});
      e.model = c.model;
      e.property = c.task.property;
    } catch (const Error&) {
    }
  }
  e.source = source;
  run.store_evaluation(name, e.to_json());
  return e;
}

}  // namespace sne::study
