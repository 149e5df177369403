// to_yaml: every declared setting, nested by section in declaration order, each with its help as a comment.
#include <algorithm>
#include <string>
#include <vector>

#include "config/schema.h"

namespace sne::config {
namespace {

struct Line {
  std::string text;  ///< indented "key: value" or "section:"
  std::string help;  ///< "" for section headers
};

// Emits the settings and sections directly under `prefix` ("" or "zoo.reader."), recursing into sections in
// the order of their first setting, so a section's settings stay together even if declared apart.
void emit(const Config& c, const std::string& prefix, std::size_t depth, std::vector<Line>& out) {
  std::vector<std::string> done;
  for (const detail::Setting& s : detail::table()) {
    const std::string& key = s.info.key;
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string rest = key.substr(prefix.size());
    const std::size_t dot = rest.find('.');
    const std::string name = rest.substr(0, dot);
    if (std::find(done.begin(), done.end(), name) != done.end()) continue;
    done.push_back(name);
    const std::string indent(2 * depth, ' ');
    if (dot == std::string::npos) {
      out.push_back({indent + name + ": " + s.render(c), s.info.help});
    } else {
      if (depth == 0 && !out.empty()) out.push_back({"", ""});  // blank line between top-level sections
      out.push_back({indent + name + ":", ""});
      emit(c, prefix + name + ".", depth + 1, out);
    }
  }
}

}  // namespace

std::string to_yaml(const Config& c) {
  std::vector<Line> lines;
  emit(c, "", 0, lines);
  // Comments line up after the longest setting, but a very long value (a path of kilobytes) does not push
  // every other line's comment out with it.
  constexpr std::size_t kMaxColumn = 60;
  std::size_t width = 0;
  for (const Line& l : lines)
    if (!l.help.empty() && l.text.size() <= kMaxColumn) width = std::max(width, l.text.size());
  std::string out;
  for (const Line& l : lines) {
    out += l.text;
    if (!l.help.empty()) out += std::string(l.text.size() < width ? width - l.text.size() + 2 : 2, ' ') + "# " + l.help;
    out += '\n';
  }
  return out;
}

}  // namespace sne::config
