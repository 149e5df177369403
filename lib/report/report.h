#pragma once
// `sne report`: the figures and tables of a run directory, a compare/ablation/transfer study or an embeddings
// file, as one self-contained index.html with every figure also as PNG and SVG. The library gathers the typed
// results (lib/study) into one document, data.json; data-scripts/report.py (matplotlib, scikit-learn's t-SNE)
// draws it. The report is built in a temporary folder next to OUT and renamed into place, so OUT is either the
// old report or the new one, never a half-written one.
#include <functional>
#include <string>

#include "core/json.h"
#include "runtime/context.h"

namespace sne::report {

enum class Kind { run, compare, ablation, transfer, embeddings };
const char* kind_name(Kind k);

/// What `input` is. DataError naming it, and what each kind holds, when it is none of them.
Kind detect(const std::string& input);

struct ReportRequest {
  std::string input;
  std::string out;               ///< "" = INPUT/report (a folder) or INPUT_report (a file)
  std::string color_by;          ///< embeddings: "zoo", "architecture" or a property ("" = architecture when
                                 ///< there are several, else the first property)
  int64_t tsne_points = 2000;    ///< embeddings: t-SNE runs on at most this many (a random subsample); 0 = no t-SNE
  std::string python;            ///< "" = $SNE_PYTHON, else /usr/bin/python3, else python3 on PATH
  std::string scripts_dir;       ///< "" = $SNE_DATA_SCRIPTS or the source tree's data-scripts/
  std::function<void(const std::string&)> info;  ///< progress lines
};

struct ReportOutcome {
  Kind kind = Kind::run;
  std::string out;
  int64_t figures = 0;
};

/// The document report.py draws, for `input` of kind `kind`. A run whose test predictions are not cached is
/// evaluated (and the evaluation cached in the run, lib/study/run_dir.h).
Json report_data(Kind kind, const std::string& input, const ReportRequest& rq, const Context& ctx);

/// Writes the report. UsageError naming the Debian package when Python, matplotlib or scikit-learn is missing,
/// and when OUT would replace INPUT; DataError for inputs that are not what they claim; IoError when OUT cannot
/// be written or holds something other than an earlier report (which alone is ever replaced).
ReportOutcome write_report(const ReportRequest& rq, const Context& ctx);

/// The default output of `input`.
std::string default_out(const std::string& input);

}  // namespace sne::report
