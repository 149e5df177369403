// resolve(): defaults < YAML sources < `--set` overrides, collecting every problem (with its origin) before
// throwing one ConfigError. The only place that reads YAML.
#include <sys/stat.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>
#include <tuple>

#include "config/schema.h"
#include "core/error.h"
#include "core/strings.h"

namespace sne::config {
namespace {

// Counts the documents of a YAML stream and where the second one starts.
struct DocumentCounter : YAML::EventHandler {
  int documents = 0;
  YAML::Mark second;
  void OnDocumentStart(const YAML::Mark& m) override {
    if (++documents == 2) second = m;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// The first document of `text`, and how many there are, counting at most 3. Not YAML::LoadAll: in yaml-cpp 0.7
// (Debian 12) it loops forever, allocating, on a stream such as a lone "," (yaml-cpp issue #1040, fixed in 0.8
// by pull request #1319), which took 24 GB before the kernel stopped it (found by tests/fuzz).
std::pair<YAML::Node, DocumentCounter> load_first_document(const std::string& text) {
  YAML::Node first = YAML::Load(text);
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentCounter counter;
  while (counter.documents < 3 && parser.HandleNextDocument(counter)) {
  }
  return {first, counter};
}

std::string describe(const YAML::Node& n) {
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  if (n.IsNull()) return "nothing";
  return "'" + n.Scalar() + "'";
}

// Per-file state: its name (for "FILE:LINE" origins) and where each key was first set (to catch repeats).
struct File {
  std::string name;
  std::map<std::string, int> seen;
};

class Resolver {
 public:
  Config config = defaults();
  std::vector<std::string> problems;

  void apply_source(const Source& src) {
    YAML::Node root;
    DocumentCounter counted;
    try {
      std::tie(root, counted) = load_first_document(src.text);
    } catch (const YAML::Exception& e) {
      // yaml-cpp may report a problem at end of input on the line after the last one; point at the last.
      YAML::Mark mark = e.mark;
      const auto lines =
          std::count(src.text.begin(), src.text.end(), '\n') + (!src.text.empty() && src.text.back() != '\n');
      if (!mark.is_null() && mark.line >= lines)
        mark.line = static_cast<int>(std::max<std::ptrdiff_t>(lines - 1, 0));
      problem(at(src.name, mark), "malformed YAML: " + e.msg);
      return;
    }
    if (counted.documents > 1) {
      problem(at(src.name, counted.second),
              counted.documents == 2 ? "expected one YAML document, found 2"
                                     : "expected one YAML document, found more (or a stray ',' at the top level)");
      return;
    }
    if (!root.IsDefined() || root.IsNull()) return;  // an empty file sets nothing
    if (!root.IsMap()) {
      problem(at(src.name, root.Mark()), "expected a map of settings at the top level, got " + describe(root));
      return;
    }
    File file{src.name, {}};
    try {
      if (src.saved) apply_former_defaults(root);
      apply_map("", root, "", &file);
    } catch (const YAML::Exception& e) {  // a node yaml-cpp cannot hand out (found by tests/fuzz)
      problem(at(src.name, e.mark), "malformed YAML: " + e.msg);
    }
  }

  // Settings introduced with a default that changes what earlier versions computed, and the value that
  // reproduces them. A saved config that lacks one of them was written before it existed.
  void apply_former_defaults(const YAML::Node& root) {
    static const std::vector<std::pair<std::string, std::string>> former{
        {"encoder.position_scale", "1"},  // positional encodings were added unscaled
    };
    for (const auto& [key, value] : former) {
      const std::size_t dot = key.find('.');
      const YAML::Node section = root[key.substr(0, dot)];  // a missing key gives an invalid node: test first
      if (!section.IsDefined() || !section.IsMap() || !section[key.substr(dot + 1)].IsDefined())
        apply_override(key + "=" + value);
    }
  }

  void apply_override(const std::string& text) {
    const std::string origin = "--set " + text;
    const std::size_t eq = text.find('=');
    if (eq == std::string::npos) {
      problem(origin, "expected KEY=VALUE");
      return;
    }
    const std::string key = trim(text.substr(0, eq));
    YAML::Node value;
    try {
      value = YAML::Load(text.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      problem(origin, key + ": malformed value: " + e.msg);
      return;
    }
    apply(key, value, origin, nullptr, 0);
  }

 private:
  void problem(const std::string& origin, const std::string& what) { problems.push_back(origin + ": " + what); }

  static std::string at(const std::string& file, const YAML::Mark& m) {
    return m.is_null() ? file : file + ":" + std::to_string(m.line + 1);
  }

  // Applies each entry of a YAML map under `prefix` ("" or "zoo."). Entries from a file get their own
  // "FILE:LINE" origin; entries of an override's value share the override's origin.
  void apply_map(const std::string& prefix, const YAML::Node& map, const std::string& origin, File* file) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      const std::string where = file ? at(file->name, it->first.Mark()) : origin;
      if (!it->first.IsScalar() || it->first.Scalar().empty()) {
        problem(where, "expected a setting name as key, got " + describe(it->first));
        continue;
      }
      apply(prefix + it->first.Scalar(), it->second, where, file, it->first.Mark().line + 1);
    }
  }

  // Applies `value` (written at `line` of `file`, or by an override when `file` is null) to the setting or
  // section `key`.
  void apply(const std::string& key, const YAML::Node& value, const std::string& origin, File* file, int line) {
    const detail::Setting* s = detail::find(key);
    const bool section = !s && detail::is_section(key);
    if (file && !section) {
      const auto [first, fresh] = file->seen.emplace(key, line);
      if (!fresh) {
        problem(origin, "key '" + key + "' is set twice (first on line " + std::to_string(first->second) + ")");
        return;
      }
    }
    if (s) {
      if (!value.IsScalar()) {
        problem(origin, key + ": expected " + s->expected + ", got " + describe(value));
      } else if (const std::string p = s->assign(config, {value.Scalar(), value.Tag() == "!"}); !p.empty()) {
        problem(origin, key + ": " + p);
      }
    } else if (section || value.IsMap()) {
      // A section, or an unknown name holding a map: descend so each leaf is checked (and gets its own
      // suggestion: "zo: {path: x}" -> "did you mean 'zoo.path'?").
      if (value.IsMap()) {
        apply_map(key + ".", value, origin, file);
      } else if (!value.IsNull()) {  // "zoo:" with nothing under it is an empty section
        problem(origin, "'" + key + "' is a section, expected a map of its settings, got " + describe(value));
      }
    } else {
      std::string p = "key '" + key + "' is unknown";
      const std::string near = did_you_mean(key, detail::known_names());
      if (!near.empty()) p += " (did you mean '" + near + "'?)";
      problem(origin, p);
    }
  }
};

}  // namespace

Source read_source(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))  // a FIFO would block the read forever
    throw ConfigError(path + ": not a regular file, expected a YAML config file");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw ConfigError(path + ": cannot read config file (" + std::strerror(errno) + ")");
  Source src{path, {}};
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) src.text.append(buf, n);
  const int err = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (err) throw ConfigError(path + ": cannot read config file (" + std::strerror(err) + ")");
  return src;
}

Config resolve(const std::vector<Source>& sources, const std::vector<std::string>& overrides) {
  Resolver r;
  for (const Source& src : sources) r.apply_source(src);
  for (const std::string& o : overrides) r.apply_override(o);
  if (r.problems.empty())  // each value in range; now whether they fit together
    for (const std::string& p : detail::cross_problems(r.config)) r.problems.push_back(p);
  if (!r.problems.empty()) throw ConfigError(join(r.problems, "\n"));
  return r.config;
}

}  // namespace sne::config
