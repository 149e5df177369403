// sne report INPUT [-o OUT]: figures and tables of a run, a study or an embeddings file (lib/report).
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>

#include "commands.h"
#include "common.h"
#include "report/report.h"

namespace sne::app {
namespace {

struct ReportArgs {
  CommonOptions common;
  report::ReportRequest rq;
};

}  // namespace

void add_report_command(CLI::App& app) {
  auto a = std::make_shared<ReportArgs>();
  auto* cmd = app.add_subcommand(
      "report", "figures and tables of a run directory, a compare/ablate/transfer study or an embeddings file: "
                "a self-contained OUT/index.html, every figure also as PNG and SVG (drawn by data-scripts/report.py "
                "with matplotlib and scikit-learn)");
  cmd->add_option("input", a->rq.input, "run directory, study directory or embeddings file (HDF5)")->required();
  cmd->add_option("-o,--out", a->rq.out, "report folder (default: INPUT/report, or INPUT_report next to a "
                                         "file); an earlier report there is replaced atomically, anything else is "
                                         "refused");
  cmd->add_option("--color-by", a->rq.color_by,
                  "embeddings: colour the points by 'zoo', 'architecture' or a property's name (default: the "
                  "architecture when there are several, else the first property)");
  cmd->add_option("--tsne-points", a->rq.tsne_points,
                  "embeddings: run t-SNE on at most this many points, a random subsample said on the figure "
                  "(0: PCA only)")
      ->check(CLI::Range(int64_t{0}, int64_t{100000}))
      ->capture_default_str();
  cmd->add_option("--python", a->rq.python, "the Python 3 that draws the figures (default: $SNE_PYTHON, else /usr/bin/python3, "
                                            "which has Debian's matplotlib, else python3 on PATH)");
  add_common_options(*cmd, a->common, false);
  cmd->callback([a] {
    require_one_process("report");
    const Context ctx = start(resolve_config(a->common));
    a->rq.info = [](const std::string& line) { spdlog::info("{}", line); };
    const auto out = report::write_report(a->rq, ctx);
    std::printf("%s/index.html: report of the %s %s (%lld figures)\n", out.out.c_str(), report::kind_name(out.kind),
                a->rq.input.c_str(), static_cast<long long>(out.figures));
  });
}

}  // namespace sne::app
