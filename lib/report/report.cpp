#include "report/report.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "config/config.h"
#include "core/error.h"
#include "core/files.h"
#include "core/lock.h"
#include "core/strings.h"
#include "study/compare.h"
#include "study/evaluation.h"
#include "study/run_dir.h"
#include "study/transfer.h"

#ifndef SNE_DATA_SCRIPTS_DIR
#define SNE_DATA_SCRIPTS_DIR "data-scripts"
#endif

namespace sne::report {
namespace fs = std::filesystem;

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::run: return "run";
    case Kind::compare: return "compare";
    case Kind::ablation: return "ablation";
    case Kind::transfer: return "transfer";
    case Kind::embeddings: return "embeddings";
  }
  return "?";
}

namespace {

const char* kWhatIsReadable =
    "expected a run directory (config.yaml and metrics.jsonl, from sne train or sne run), a study directory "
    "(compare.json from sne compare, ablation.json from sne ablate, transfer.json from sne transfer) or an "
    "embeddings file (from sne encode)";

bool is_hdf5(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char sig[8] = {};
  f.read(sig, 8);
  return f.gcount() == 8 && std::memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0;
}

Json read_json_file(const fs::path& p) {
  try {
    return Json::parse(read_text(p.string()));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw DataError(p.string() + ": not valid JSON (" + e.what() + "); the file is truncated or damaged");
  }
}

Json epochs_json(const study::RunDir& run) {
  Json a = Json::array();
  for (const auto& e : run.epochs()) {
    Json j = Json::object();
    j.set("epoch", static_cast<long long>(e.epoch));
    j.set("train_loss", study::finite_or_null(e.train_loss));
    j.set("train_invariance", study::finite_or_null(e.train_invariance));
    j.set("lr", study::finite_or_null(e.lr));
    j.set("validation_mse", study::finite_or_null(e.validation_mse));
    j.set("validation_tau", study::finite_or_null(e.validation_tau));
    j.set("seconds", study::finite_or_null(e.seconds));
    j.set("best", e.best);
    a.push_back(j);
  }
  return a;
}

// The cached test evaluation of a study's run (with predictions) when it is the one the study recorded (same
// source: checkpoint, zoo, split, samples); null otherwise. A damaged cache is only a missing figure.
Json cached_test(const fs::path& run_dir, const Json& recorded_source) {
  const fs::path p = study::RunDir(run_dir).evaluation_file("test");
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return Json();
  try {
    Json j = read_json_file(p);
    const Json* s = j.is_object() ? j.find("source") : nullptr;
    return s && *s == recorded_source ? j : Json();
  } catch (const DataError&) {
    return Json();
  }
}

// A study row's run directory: recorded relative to the study folder ("run"), or, in older files, as the path
// given when the study ran ("run_dir"), which only holds from the folder it ran in.
fs::path row_run_dir(const std::string& study_dir, const Json& row, const std::string& recorded) {
  if (const Json* rel = row.find("run"); rel && rel->is_string()) return fs::path(study_dir) / rel->as_string();
  return recorded;
}

Json run_data(const std::string& dir, const ReportRequest& rq, const Context& ctx) {
  const study::RunDir run(dir);
  config::Config cfg;
  try {
    cfg = config::resolve({config::read_source(run.config_file().string())}, {});
  } catch (const ConfigError& e) {
    throw DataError(run.config_file().string() + ": not a config this sne reads (" + std::string(e.what()) + ")");
  }
  Json j = Json::object();
  j.set("kind", "run");
  j.set("name", fs::path(dir).filename().string());
  j.set("path", dir);
  j.set("model", cfg.model);
  j.set("zoo", cfg.zoo.path);
  j.set("property", cfg.task.property);
  j.set("loss", cfg.task.loss);
  j.set("test_split", cfg.task.test_split);
  j.set("epochs_planned", static_cast<long long>(cfg.train.epochs));
  const Json epochs = epochs_json(run);
  if (epochs.size() == 0) throw DataError(run.metrics_file().string() + ": no epoch finished yet; nothing to report");
  j.set("epochs", epochs);
  std::error_code ec;
  if (!fs::is_directory(run.best(), ec)) {
    j.set("test_error", run.best().string() + ": no best checkpoint");
    return j;
  }
  try {
    study::EvaluationRequest erq;  // as many symmetry samples as the stored evaluation (sne run's, a study's)
    if (fs::is_regular_file(run.evaluation_file("test"), ec)) {
      try {
        const Json* src = read_json_file(run.evaluation_file("test")).find("source");
        if (src && src->is_object())
          if (const Json* k = src->find("invariance_samples"); k && k->is_number() && k->as_int() >= 0)
            erq.invariance_samples = k->as_int();
      } catch (const DataError&) {  // damaged: evaluated again below
      }
    } else if (rq.info) {
      rq.info("testing " + run.best().string() + " on the test split (kept in " + run.evaluation_file("test").string() + ")");
    }
    j.set("test", study::evaluate_run(run, "test", erq, ctx).to_json(true));
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::io || e.kind() == ErrorKind::internal) throw;
    j.set("test_error", std::string(e.what()));  // e.g. the zoo is no longer there: the curves still draw
  }
  return j;
}

Json compare_data(const std::string& dir, Kind kind) {
  const fs::path file = fs::path(dir) / (kind == Kind::ablation ? "ablation.json" : "compare.json");
  const auto result = study::CompareResult::from_json(read_json_file(file), file.string());
  Json j = result.to_json();
  j.set("path", dir);
  j.set("markdown", result.markdown());
  Json rows = Json::array();
  for (std::size_t k = 0; k < result.rows.size(); ++k) {
    Json row = j.at("rows").as_array()[k];
    const auto& r = result.rows[k];
    std::error_code ec;
    const study::RunDir run(row_run_dir(dir, row, r.run.dir));
    row.set("run_dir", run.root().string());
    try {
      row.set("epochs_log", fs::is_regular_file(run.metrics_file(), ec) ? epochs_json(run) : Json::array());
    } catch (const DataError&) {  // a damaged log: the tables still draw, the curve of this row does not
      row.set("epochs_log", Json::array());
    }
    const Json test = r.test.source.is_null() ? Json() : cached_test(run.root(), r.test.source);
    if (const Json* p = test.is_object() ? test.find("predictions") : nullptr) row.set("predictions", *p);
    rows.push_back(row);
  }
  j.set("rows", rows);
  return j;
}

Json transfer_data(const std::string& dir) {
  const fs::path file = fs::path(dir) / "transfer.json";
  const auto result = study::TransferResult::from_json(read_json_file(file), file.string());
  Json j = result.to_json();
  j.set("path", dir);
  j.set("markdown", result.markdown());
  return j;
}

std::string scripts_dir(const ReportRequest& rq) {
  if (!rq.scripts_dir.empty()) return rq.scripts_dir;
  if (const char* e = std::getenv("SNE_DATA_SCRIPTS"); e && *e) return e;
  return SNE_DATA_SCRIPTS_DIR;
}

std::string python(const ReportRequest& rq) {
  if (!rq.python.empty()) return rq.python;
  if (const char* e = std::getenv("SNE_PYTHON"); e && *e) return e;
  // Debian's python3-matplotlib and python3-sklearn (scripts/install-deps.sh) are for the system Python, which
  // another python3 earlier on PATH (a virtual environment, /usr/local) may hide.
  std::error_code ec;
  return fs::exists("/usr/bin/python3", ec) ? "/usr/bin/python3" : "python3";
}

// Runs the plotter, passing its stderr lines on (progress) and keeping the last for the error message.
// Returns the exit status; -1 with `last` set when it could not be started.
int run_plotter(const std::vector<std::string>& argv, const ReportRequest& rq, std::string& last) {
  int fds[2];
  // O_CLOEXEC: no other child of this process (a second report, a data loader) inherits the pipe and keeps it open.
  if (pipe2(fds, O_CLOEXEC) != 0) throw IoError(std::string("cannot start ") + argv[0] + " (" + std::strerror(errno) + ")");
  const pid_t pid = fork();
  if (pid < 0) {
    const int e = errno;
    close(fds[0]);
    close(fds[1]);
    throw IoError(std::string("cannot start ") + argv[0] + " (" + std::strerror(e) + ")");
  }
  if (pid == 0) {  // dup2 clears O_CLOEXEC on the copy, so the script's stderr is the pipe
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "error: cannot run %s (%s)\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  FILE* in = fdopen(fds[0], "r");
  char buf[4096];
  while (in && std::fgets(buf, sizeof buf, in)) {
    std::string line = trim(buf);
    if (line.empty()) continue;
    last = line;
    if (line.rfind("error:", 0) != 0) {
      if (rq.info) rq.info(line);
      else std::fprintf(stderr, "%s\n", line.c_str());
    }
  }
  if (in) std::fclose(in);
  int status = 0;
  pid_t w;
  while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  if (w < 0) throw IoError(std::string("lost track of ") + argv[0] + " (" + std::strerror(errno) + ")");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

// Whether `p` is `root` or lies under it (both made absolute, symbolic links resolved where they exist).
bool within(const fs::path& p, const fs::path& root) {
  const auto norm = [](const fs::path& x) {
    std::error_code ec;
    const fs::path c = fs::weakly_canonical(fs::absolute(x), ec);
    return ec || c.empty() ? fs::absolute(x).lexically_normal() : c;
  };
  const fs::path a = norm(p), b = norm(root);
  auto ia = a.begin(), ib = b.begin();
  for (; ib != b.end() && !ib->empty(); ++ia, ++ib)
    if (ia == a.end() || *ia != *ib) return false;
  return true;
}

// OUT may be replaced only when it is missing, an empty folder or an earlier report (it has figures.json): never
// the input, a run, a study or anything else a user keeps there. UsageError or IoError saying so otherwise.
void check_replaceable(const std::string& out, const std::string& input) {
  std::error_code ec;
  if (within(input, out))
    throw UsageError("-o " + out + ": the report would replace its own input " + input +
                     "; choose a folder outside it (the default is INPUT/report)");
  if (!fs::exists(out, ec)) return;
  if (!fs::is_directory(out, ec))
    throw IoError(out + ": exists and is not a folder; the report is a folder (index.html and figures)");
  if (fs::is_empty(out, ec)) return;
  if (fs::is_regular_file(fs::path(out) / "figures.json", ec)) return;  // written by report.py alone
  throw IoError(out + ": exists and is not an sne report (no figures.json in it); not replacing it (choose "
                "another -o, or remove it)");
}

// Folders a killed `sne report` left next to OUT (OUT.tmp-PID, OUT.old-PID). Called with OUT's lock held, so
// no living process owns them.
void remove_leftovers(const std::string& out) {
  std::error_code ec;
  const fs::path o = fs::absolute(out);
  const std::string stem = o.filename().string();
  for (const auto& e : fs::directory_iterator(o.parent_path(), ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind(stem + ".tmp-", 0) == 0 || n.rfind(stem + ".old-", 0) == 0) {
      std::error_code e2;
      remove_tree(e.path().string(), e2);
    }
  }
}

// Swaps `a` and `b` in one step (Linux renameat2 RENAME_EXCHANGE). False when the file system cannot.
bool swap_folders(const std::string& a, const std::string& b) {
#ifdef SYS_renameat2
  constexpr unsigned kExchange = 2;  // RENAME_EXCHANGE
  return ::syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), kExchange) == 0;
#else
  (void)a, (void)b;
  return false;
#endif
}

}  // namespace

Kind detect(const std::string& input) {
  std::error_code ec;
  if (!fs::exists(input, ec)) throw DataError(input + ": no such file or directory; " + kWhatIsReadable);
  if (fs::is_directory(input, ec)) {
    const fs::path d(input);
    if (fs::is_regular_file(d / "transfer.json", ec)) return Kind::transfer;
    if (fs::is_regular_file(d / "ablation.json", ec)) return Kind::ablation;
    if (fs::is_regular_file(d / "compare.json", ec)) return Kind::compare;
    if (study::RunDir(d).exists()) {
      if (!fs::is_regular_file(d / "metrics.jsonl", ec))
        throw DataError((d / "metrics.jsonl").string() + ": missing; the run has not finished an epoch yet");
      return Kind::run;
    }
    throw DataError(input + ": not something sne reports; " + kWhatIsReadable);
  }
  if (fs::is_regular_file(input, ec) && is_hdf5(input)) return Kind::embeddings;
  throw DataError(input + ": not something sne reports; " + kWhatIsReadable);
}

std::string default_out(const std::string& input) {
  std::string s = input;
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  std::error_code ec;
  if (fs::is_directory(s, ec)) return (fs::path(s) / "report").string();
  return (fs::path(s).parent_path() / (fs::path(s).stem().string() + "_report")).string();
}

Json report_data(Kind kind, const std::string& input, const ReportRequest& rq, const Context& ctx) {
  Json j;
  switch (kind) {
    case Kind::run: j = run_data(input, rq, ctx); break;
    case Kind::compare:
    case Kind::ablation: j = compare_data(input, kind); break;
    case Kind::transfer: j = transfer_data(input); break;
    case Kind::embeddings:
      j = Json::object();
      j.set("kind", "embeddings");
      j.set("path", input);
      j.set("color_by", rq.color_by);
      j.set("tsne_points", static_cast<long long>(rq.tsne_points));
      break;
  }
  return j;
}

ReportOutcome write_report(const ReportRequest& rq, const Context& ctx) {
  ReportOutcome out;
  out.kind = detect(rq.input);
  out.out = rq.out.empty() ? default_out(rq.input) : rq.out;
  while (out.out.size() > 1 && out.out.back() == '/') out.out.pop_back();
  std::error_code ec;
  check_replaceable(out.out, rq.input);
  const fs::path parent = fs::absolute(out.out).parent_path();
  fs::create_directories(parent, ec);
  if (ec) throw IoError(parent.string() + ": cannot create (" + ec.message() + ")");
  OutputLock lock = OutputLock::acquire(out.out + ".lock", out.out);
  check_replaceable(out.out, rq.input);  // again, now that no other report can be writing it
  remove_leftovers(out.out);

  const Json data = report_data(out.kind, rq.input, rq, ctx);
  const std::string tmp = out.out + ".tmp-" + std::to_string(::getpid());
  remove_tree(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) throw IoError(tmp + ": cannot create (" + ec.message() + ")");
  const auto discard = [&] {
    std::error_code e2;
    remove_tree(tmp, e2);
  };
  try {
    write_text_atomic(tmp + "/data.json", data.dump(1) + "\n");
    const std::string script = (fs::path(scripts_dir(rq)) / "report.py").string();
    if (!fs::is_regular_file(script, ec))
      throw UsageError(script + ": the report script is missing (set SNE_DATA_SCRIPTS to the data-scripts folder)");
    std::string last;
    const std::string py = python(rq);
    const int rc = run_plotter({py, script, "--data", tmp + "/data.json", "--out", tmp}, rq, last);
    const std::string why = last.rfind("error:", 0) == 0 ? trim(last.substr(6)) : last;
    if (rc == 127) throw UsageError("sne report needs Python 3 (Debian package python3; or --python PATH): " + why);
    if (rc == 4) throw UsageError("sne report " + why + " [Python: " + py + "]");
    if (rc == 3) throw DataError(why);
    if (rc == 5) throw IoError(why);
    if (rc != 0) throw Error(ErrorKind::internal, "the report script failed (exit " + std::to_string(rc) + "): " + why);
    const Json figures = read_json_file(tmp + "/figures.json");
    out.figures = static_cast<int64_t>(figures.at("figures").size());
  } catch (...) {
    discard();
    throw;
  }
  // Swap the new report in: OUT is the old report or the new one at every moment (one exchange of the two
  // folders; where the file system cannot, two renames with a moment between them).
  const bool had = fs::exists(out.out, ec);
  if (had && swap_folders(tmp, out.out)) {
    remove_tree(tmp, ec);
    return out;
  }
  const std::string old = out.out + ".old-" + std::to_string(::getpid());
  if (had && std::rename(out.out.c_str(), old.c_str()) != 0) {
    discard();
    throw IoError(out.out + ": cannot replace (" + std::strerror(errno) + ")");
  }
  if (std::rename(tmp.c_str(), out.out.c_str()) != 0) {
    const int e = errno;
    if (had) std::rename(old.c_str(), out.out.c_str());
    discard();
    throw IoError(out.out + ": cannot write (" + std::strerror(e) + ")");
  }
  if (had) remove_tree(old, ec);
  return out;
}

}  // namespace sne::report
