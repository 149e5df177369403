#include "core/json.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "core/strings.h"

namespace sne {
namespace {

const char* type_name(Json::Type t) {
  switch (t) {
    case Json::Type::null: return "null";
    case Json::Type::boolean: return "a boolean";
    case Json::Type::number: return "a number";
    case Json::Type::string: return "a string";
    case Json::Type::array: return "an array";
    case Json::Type::object: return "an object";
  }
  return "?";
}

[[noreturn]] void type_mismatch(Json::Type want, Json::Type got) {
  throw std::runtime_error(std::string("expected ") + type_name(want) + ", found " + type_name(got));
}

void escape_to(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

class Parser {
 public:
  explicit Parser(const std::string& t) : t_(t) {}

  Json parse_document() {
    Json v = value();
    skip_ws();
    if (i_ != t_.size()) fail("unexpected text after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    std::size_t line = 1, col = 1;
    for (std::size_t k = 0; k < i_ && k < t_.size(); ++k) {
      if (t_[k] == '\n') { ++line; col = 1; } else { ++col; }
    }
    throw std::runtime_error("JSON " + std::to_string(line) + ":" + std::to_string(col) + ": " + what);
  }
  void skip_ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\n' || t_[i_] == '\t' || t_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    skip_ws();
    if (i_ < t_.size() && t_[i_] == c) { ++i_; return true; }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  bool literal(const char* word) {
    std::size_t n = std::char_traits<char>::length(word);
    if (t_.compare(i_, n, word) == 0) { i_ += n; return true; }
    return false;
  }

  Json value() {
    if (++depth_ > 256) fail("nesting too deep");
    skip_ws();
    if (i_ >= t_.size()) fail("unexpected end of text");
    Json out;
    const char c = t_[i_];
    if (c == '{') {
      ++i_;
      out = Json::object();
      if (!eat('}')) {
        do {
          skip_ws();
          if (i_ >= t_.size() || t_[i_] != '"') fail("expected a member name");
          std::string key = string();
          expect(':');
          out.set(key, value());
        } while (eat(','));
        expect('}');
      }
    } else if (c == '[') {
      ++i_;
      out = Json::array();
      if (!eat(']')) {
        do { out.push_back(value()); } while (eat(','));
        expect(']');
      }
    } else if (c == '"') {
      out = Json(string());
    } else if (literal("true")) {
      out = Json(true);
    } else if (literal("false")) {
      out = Json(false);
    } else if (literal("null")) {
      out = Json();
    } else if (literal("NaN")) {
      out = Json(std::nan(""));
    } else {
      out = Json(number());
    }
    --depth_;
    return out;
  }

  double number() {
    const char* begin = t_.c_str() + i_;
    char* end = nullptr;
    const double v = std::strtod(begin, &end);
    if (end == begin) fail("expected a value");
    i_ += static_cast<std::size_t>(end - begin);
    return v;
  }

  std::string string() {
    ++i_;  // opening quote
    std::string s;
    while (true) {
      if (i_ >= t_.size()) fail("unterminated string");
      char c = t_[i_++];
      if (c == '"') break;
      if (c != '\\') { s += c; continue; }
      if (i_ >= t_.size()) fail("unterminated string");
      char e = t_[i_++];
      switch (e) {
        case '"': s += '"'; break;
        case '\\': s += '\\'; break;
        case '/': s += '/'; break;
        case 'b': s += '\b'; break;
        case 'f': s += '\f'; break;
        case 'n': s += '\n'; break;
        case 'r': s += '\r'; break;
        case 't': s += '\t'; break;
        case 'u': {
          if (i_ + 4 > t_.size()) fail("bad \\u escape");
          unsigned code = static_cast<unsigned>(std::stoul(t_.substr(i_, 4), nullptr, 16));
          i_ += 4;
          // UTF-8 encode (surrogate pairs are not combined: specs are ASCII in practice).
          if (code < 0x80) {
            s += static_cast<char>(code);
          } else if (code < 0x800) {
            s += static_cast<char>(0xC0 | (code >> 6));
            s += static_cast<char>(0x80 | (code & 0x3F));
          } else {
            s += static_cast<char>(0xE0 | (code >> 12));
            s += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            s += static_cast<char>(0x80 | (code & 0x3F));
          }
          break;
        }
        default: fail("bad escape in string");
      }
    }
    return s;
  }

  const std::string& t_;
  std::size_t i_ = 0;
  int depth_ = 0;
};

}  // namespace

bool Json::as_bool() const {
  if (type_ != Type::boolean) type_mismatch(Type::boolean, type_);
  return bool_;
}
double Json::as_number() const {
  if (type_ != Type::number) type_mismatch(Type::number, type_);
  return num_;
}
long long Json::as_int() const {
  const double d = as_number();
  if (std::floor(d) != d || std::fabs(d) > 9007199254740992.0)
    throw std::runtime_error("expected an integer, found " + format_number(d));
  return static_cast<long long>(d);
}
const std::string& Json::as_string() const {
  if (type_ != Type::string) type_mismatch(Type::string, type_);
  return str_;
}
const Json::Array& Json::as_array() const {
  if (type_ != Type::array) type_mismatch(Type::array, type_);
  return arr_;
}
Json::Array& Json::as_array() {
  if (type_ != Type::array) type_mismatch(Type::array, type_);
  return arr_;
}
const Json::Object& Json::as_object() const {
  if (type_ != Type::object) type_mismatch(Type::object, type_);
  return obj_;
}

const Json* Json::find(const std::string& key) const {
  if (type_ != Type::object) return nullptr;
  for (const auto& kv : obj_)
    if (kv.first == key) return &kv.second;
  return nullptr;
}
const Json& Json::at(const std::string& key) const {
  if (type_ != Type::object) type_mismatch(Type::object, type_);
  const Json* v = find(key);
  if (!v) throw std::runtime_error("missing member '" + key + "'");
  return *v;
}
Json& Json::set(const std::string& key, Json value) {
  if (type_ == Type::null) type_ = Type::object;
  if (type_ != Type::object) type_mismatch(Type::object, type_);
  for (auto& kv : obj_)
    if (kv.first == key) return kv.second = std::move(value);
  obj_.emplace_back(key, std::move(value));
  return obj_.back().second;
}
void Json::push_back(Json value) {
  if (type_ == Type::null) type_ = Type::array;
  as_array().push_back(std::move(value));
}
std::size_t Json::size() const {
  if (type_ == Type::array) return arr_.size();
  if (type_ == Type::object) return obj_.size();
  return 0;
}

void Json::dump_to(std::string& out, int indent, int depth) const {
  const auto newline = [&](int d) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<std::size_t>(indent * d), ' ');
  };
  switch (type_) {
    case Type::null: out += "null"; break;
    case Type::boolean: out += bool_ ? "true" : "false"; break;
    case Type::number:
      // JSON has no NaN/Inf; NaN is written as the common extension "NaN", infinities as null.
      if (std::isnan(num_)) out += "NaN";
      else if (std::isinf(num_)) out += "null";
      else out += format_number(num_);
      break;
    case Type::string: escape_to(out, str_); break;
    case Type::array:
      out += '[';
      for (std::size_t k = 0; k < arr_.size(); ++k) {
        if (k) out += indent < 0 ? "," : ",";
        newline(depth + 1);
        arr_[k].dump_to(out, indent, depth + 1);
      }
      if (!arr_.empty()) newline(depth);
      out += ']';
      break;
    case Type::object:
      out += '{';
      for (std::size_t k = 0; k < obj_.size(); ++k) {
        if (k) out += ",";
        newline(depth + 1);
        escape_to(out, obj_[k].first);
        out += indent < 0 ? ":" : ": ";
        obj_[k].second.dump_to(out, indent, depth + 1);
      }
      if (!obj_.empty()) newline(depth);
      out += '}';
      break;
  }
}

std::string Json::dump(int indent) const {
  std::string out;
  dump_to(out, indent, 0);
  return out;
}

Json Json::parse(const std::string& text) { return Parser(text).parse_document(); }

bool operator==(const Json& a, const Json& b) {
  if (a.type_ != b.type_) return false;
  switch (a.type_) {
    case Json::Type::null: return true;
    case Json::Type::boolean: return a.bool_ == b.bool_;
    case Json::Type::number: return a.num_ == b.num_ || (std::isnan(a.num_) && std::isnan(b.num_));
    case Json::Type::string: return a.str_ == b.str_;
    case Json::Type::array: return a.arr_ == b.arr_;
    case Json::Type::object: return a.obj_ == b.obj_;
  }
  return false;
}

}  // namespace sne
