#include "study.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "config/config.h"
#include "core/error.h"
#include "core/strings.h"

namespace sne::app {

std::vector<std::string> parse_models(const std::string& text) {
  const auto models = split_list(text);
  const auto& known = config::model_names();
  if (models.empty()) throw UsageError("--models: expected a comma-separated list of " + join(known));
  for (const auto& m : models)
    if (std::find(known.begin(), known.end(), m) == known.end()) {
      const std::string near = did_you_mean(m, known);
      throw UsageError("--models: unknown model '" + m + "'" + (near.empty() ? "" : " (did you mean '" + near + "'?)") +
                       "; expected one of " + join(known));
    }
  return models;
}

std::string read_text_file(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void write_text_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream f(p);
  f << text;
  if (!f) throw IoError(p.string() + ": cannot write");
}

std::string number_cell(const Json& row, const char* key, int digits) {
  const Json* v = row.find(key);
  if (!v || !v->is_number()) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v->as_number());
  return buf;
}

std::string fixed_cell(const Json& row, const char* key, int decimals) {
  const Json* v = row.find(key);
  if (!v || !v->is_number()) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v->as_number());
  return buf;
}

}  // namespace sne::app
