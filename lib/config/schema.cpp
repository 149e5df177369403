// The generic declaration machinery: typed parsing, checking and rendering of settings, and the public
// functions that only need the declaration table (settings(), defaults(), operator==).
#include "config/schema.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <utility>

#include "core/strings.h"

namespace sne::config::detail {
namespace {

std::string got(const Scalar& v) {
  const std::string shown = v.text.size() <= 80 ? v.text
                                                 : v.text.substr(0, 60) + "...' (" + std::to_string(v.text.size()) +
                                                       " characters";
  return "got '" + shown + (v.text.size() <= 80 ? "'" : ")") + (v.quoted ? " (quoted, so a string)" : "");
}

// Scanners for the YAML 1.2 core schema's number forms. Hand-written: libstdc++'s std::regex recurses once per
// character and overflowed the stack on a 50 kB value.
std::size_t skip_digits(const std::string& s, std::size_t i) {
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  return i;
}
std::size_t skip_sign(const std::string& s, std::size_t i) { return i < s.size() && (s[i] == '+' || s[i] == '-') ? i + 1 : i; }

bool is_integer_text(const std::string& s) {  // [-+]?[0-9]+
  const std::size_t i = skip_sign(s, 0), j = skip_digits(s, i);
  return j > i && j == s.size();
}

bool is_number_text(const std::string& s) {  // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
  std::size_t i = skip_sign(s, 0);
  const std::size_t int_end = skip_digits(s, i);
  bool digits = int_end > i;
  i = int_end;
  if (i < s.size() && s[i] == '.') {
    const std::size_t frac_end = skip_digits(s, i + 1);
    digits = digits || frac_end > i + 1;
    i = frac_end;
  }
  if (!digits) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    const std::size_t e = skip_sign(s, i + 1), e_end = skip_digits(s, e);
    if (e_end == e) return false;
    i = e_end;
  }
  return i == s.size();
}

// ---- per-type parsing: "" when `v` is a valid T (stored in `out`), else the problem -------------------

std::string parse(const Scalar& v, int64_t& out) {
  if (v.quoted || !is_integer_text(v.text)) return "expected an integer, " + got(v);
  errno = 0;
  const long long x = std::strtoll(v.text.c_str(), nullptr, 10);
  if (errno == ERANGE) return "expected an integer, " + got(v) + " (outside the 64-bit range)";
  out = static_cast<int64_t>(x);
  return "";
}

std::string parse(const Scalar& v, double& out) {
  // YAML 1.2 core schema floats (and integers).
  if (v.quoted) return "expected a number, " + got(v);
  const std::string unsigned_text = v.text.substr(skip_sign(v.text, 0));
  if (unsigned_text == ".inf" || unsigned_text == ".Inf" || unsigned_text == ".INF") {
    out = v.text[0] == '-' ? -HUGE_VAL : HUGE_VAL;
  } else if (v.text == ".nan" || v.text == ".NaN" || v.text == ".NAN") {
    out = std::nan("");
  } else if (is_number_text(v.text)) {
    errno = 0;
    out = std::strtod(v.text.c_str(), nullptr);
    if (errno == ERANGE && std::isinf(out)) return "expected a number, " + got(v) + " (too large)";
  } else {
    return "expected a number, " + got(v);
  }
  // No setting means anything by infinity or NaN: a run would train on it and print NaN metrics.
  if (!std::isfinite(out)) return "expected a finite number, " + got(v);
  // Settings meet float32 tensors (learning rates, weights of losses, ranges): beyond its range LibTorch throws.
  if (std::fabs(out) > 3.0e38) return "expected a number within float32's range (|x| <= 3e38), " + got(v);
  return "";
}

std::string parse(const Scalar& v, bool& out) {
  if (!v.quoted && v.text == "true") {
    out = true;
  } else if (!v.quoted && v.text == "false") {
    out = false;
  } else {
    return "expected true or false, " + got(v);
  }
  return "";
}

std::string parse(const Scalar& v, std::string& out) {
  out = v.text;
  return "";
}

// ---- per-type rendering as YAML scalar text --------------------------------------------------------------

std::string render(int64_t v) { return std::to_string(v); }
std::string render(bool v) { return v ? "true" : "false"; }
std::string render(const std::string& v) { return quote(v); }
std::string render(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  return format_number(v);
}

template <class T>
bool same(const T& a, const T& b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a) && std::isnan(b)) return true;
  }
  return a == b;
}

template <class T>
Setting make(std::string key, const char* type, std::string expected, Field<T> field, T def, Check<T> check,
             std::string help) {
  if (check.problem && !check.problem(def).empty())
    throw std::logic_error("config setting " + key + ": default fails its check: " + check.problem(def));
  Setting s;
  s.info = SettingInfo{std::move(key), type, render(def), check.text, std::move(help)};
  s.expected = std::move(expected);
  s.reset = [field, def](Config& c) { field(c) = def; };
  // Accessors take Config&; rendering and comparing only read through them.
  s.render = [field](const Config& c) { return render(field(const_cast<Config&>(c))); };
  s.equal = [field](const Config& a, const Config& b) {
    return same(field(const_cast<Config&>(a)), field(const_cast<Config&>(b)));
  };
  s.assign = [field, check](Config& c, const Scalar& v) -> std::string {
    T value{};
    if (std::string p = parse(v, value); !p.empty()) return p;
    if (check.problem) {
      if (std::string p = check.problem(value); !p.empty()) return p;
    }
    field(c) = std::move(value);
    return "";
  };
  return s;
}

}  // namespace

// ---- checks -----------------------------------------------------------------------------------------------

Check<int64_t> at_least(int64_t min) {
  return {">= " + std::to_string(min), [min](const int64_t& v) {
            return v >= min ? std::string() : "must be >= " + std::to_string(min) + ", got " + std::to_string(v);
          }};
}

Check<int64_t> between_int(int64_t min, int64_t max) {
  return {"in [" + std::to_string(min) + ", " + std::to_string(max) + "]", [min, max](const int64_t& v) {
            return v >= min && v <= max ? std::string()
                                        : "must be in [" + std::to_string(min) + ", " + std::to_string(max) +
                                              "], got " + std::to_string(v);
          }};
}

Check<double> greater_than(double min) {
  return {"> " + render(min), [min](const double& v) {
            return v > min ? std::string() : "must be > " + render(min) + ", got " + render(v);
          }};
}

Check<double> at_least_number(double min) {
  return {">= " + render(min), [min](const double& v) {
            return v >= min ? std::string() : "must be >= " + render(min) + ", got " + render(v);
          }};
}

Check<double> between(double min, double max) {
  return {"in [" + render(min) + ", " + render(max) + "]", [min, max](const double& v) {
            return v >= min && v <= max ? std::string()
                                        : "must be in [" + render(min) + ", " + render(max) + "], got " + render(v);
          }};
}

Check<double> positive_at_most(double max) {
  return {"in (0, " + render(max) + "]", [max](const double& v) {
            return v > 0 && v <= max ? std::string() : "must be in (0, " + render(max) + "], got " + render(v);
          }};
}

Check<double> fraction() {
  return {"in (0, 1]", [](const double& v) {
            return v > 0 && v <= 1 ? std::string() : "must be in (0, 1], got " + render(v);
          }};
}

Check<std::string> non_empty() {
  return {"non-empty", [](const std::string& v) { return v.empty() ? "must be non-empty" : std::string(); }};
}

// ---- declaration helpers -------------------------------------------------------------------------------

Setting integer(std::string key, Field<int64_t> field, int64_t def, Check<int64_t> check, std::string help) {
  return make<int64_t>(std::move(key), "int", "an integer", field, def, std::move(check), std::move(help));
}

Setting number(std::string key, Field<double> field, double def, Check<double> check, std::string help) {
  return make<double>(std::move(key), "float", "a number", field, def, std::move(check), std::move(help));
}

Setting boolean(std::string key, Field<bool> field, bool def, std::string help) {
  return make<bool>(std::move(key), "bool", "true or false", field, def, unchecked<bool>(), std::move(help));
}

Setting string(std::string key, Field<std::string> field, std::string def, Check<std::string> check,
               std::string help) {
  return make<std::string>(std::move(key), "string", "a string", field, std::move(def), std::move(check),
                           std::move(help));
}

Setting choice(std::string key, Field<std::string> field, std::string def, std::vector<std::string> choices,
               std::string help) {
  const std::string list = "one of: " + join(choices);
  Check<std::string> check{list, [choices, list](const std::string& v) {
                             if (std::find(choices.begin(), choices.end(), v) != choices.end())
                               return std::string();
                             std::string p = "got '" + v + "', must be " + list;
                             const std::string near = did_you_mean(v, choices);
                             if (!near.empty()) p += " (did you mean '" + near + "'?)";
                             return p;
                           }};
  Setting s = make<std::string>(std::move(key), "choice", "a string", field, std::move(def), std::move(check),
                                std::move(help));
  s.expected = list;
  return s;
}

// ---- lookups ------------------------------------------------------------------------------------------------

const Setting* find(const std::string& key) {
  for (const Setting& s : table())
    if (s.info.key == key) return &s;
  return nullptr;
}

bool is_section(const std::string& key) {
  const std::string prefix = key + ".";
  for (const Setting& s : table())
    if (s.info.key.compare(0, prefix.size(), prefix) == 0) return true;
  return false;
}

const std::vector<std::string>& known_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    auto add = [&out](const std::string& n) {
      if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
    };
    for (const Setting& s : table()) {
      for (std::size_t dot = s.info.key.find('.'); dot != std::string::npos; dot = s.info.key.find('.', dot + 1))
        add(s.info.key.substr(0, dot));
      add(s.info.key);
    }
    return out;
  }();
  return names;
}

std::string quote(const std::string& s) {
  const auto plain_char = [](char ch, bool first) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
           ch == '.' || ch == '/' || (!first && (ch == '+' || ch == '-'));
  };
  bool plain = !s.empty();
  for (std::size_t i = 0; plain && i < s.size(); ++i) plain = plain_char(s[i], i == 0);
  if (plain && s != "null" && s != "Null" && s != "NULL") return s;
  std::string out = "\"";
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

}  // namespace sne::config::detail

namespace sne::config {

const std::vector<SettingInfo>& settings() {
  static const std::vector<SettingInfo> infos = [] {
    std::vector<SettingInfo> out;
    for (const detail::Setting& s : detail::table()) out.push_back(s.info);
    return out;
  }();
  return infos;
}

Config defaults() {
  Config c{};
  for (const detail::Setting& s : detail::table()) s.reset(c);
  return c;
}

int64_t budget_bytes(double mb) {
  const double bytes = mb * static_cast<double>(1 << 20);
  return bytes < 1 ? 1 : bytes > 1125899906842624.0 ? int64_t{1} << 50 : static_cast<int64_t>(bytes);
}

bool operator==(const Config& a, const Config& b) {
  return std::all_of(detail::table().begin(), detail::table().end(),
                     [&](const detail::Setting& s) { return s.equal(a, b); });
}

}  // namespace sne::config
