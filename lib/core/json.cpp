#include "core/json.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <unordered_map>

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

// Python's json module writes NaN, Infinity and -Infinity (allow_nan, its default), and earlier sne versions
// wrote NaN: read them as null, the format's "unknown". Outside strings JSON has no other bare words, so the
// replacement cannot change a valid document.
std::string without_non_finite_words(const std::string& text) {
  static const char* words[] = {"-Infinity", "Infinity", "NaN"};
  std::string out;
  bool in_string = false, changed = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        if (changed) out += c;
        if (++i >= text.size()) break;
        if (changed) out += text[i];
        continue;
      }
      if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == 'N' || c == 'I' || c == '-') {
      bool replaced = false;
      for (const char* w : words) {
        const std::size_t n = std::char_traits<char>::length(w);
        if (text.compare(i, n, w) == 0) {
          if (!changed) out.assign(text, 0, i), changed = true;
          out += "null";
          i += n - 1;
          replaced = true;
          break;
        }
      }
      if (replaced) continue;
    }
    if (changed) out += c;
  }
  return changed ? out : text;
}

constexpr std::size_t kMaxDepth = 512;  // deeper documents are refused (no sne file nests more than ~6 levels)

// Builds a Json from nlohmann's SAX events: no intermediate document, and duplicate member names keep the last
// value (as Python's json does) in time linear in the members.
class Builder : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit Builder(const std::string& text) : text_(text) {}
  Json result;

  bool null() override { return add(Json()); }
  bool boolean(bool v) override { return add(Json(v)); }
  bool number_integer(number_integer_t v) override { return add(Json(static_cast<double>(v))); }
  bool number_unsigned(number_unsigned_t v) override { return add(Json(static_cast<double>(v))); }
  bool number_float(number_float_t v, const string_t&) override { return add(Json(v)); }
  bool string(string_t& v) override { return add(Json(std::move(v))); }
  bool binary(binary_t&) override { return fail_at_end("binary values are not JSON"); }
  bool start_object(std::size_t) override { return open(Json::object()); }
  bool key(string_t& k) override {
    stack_.back().key = std::move(k);
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(Json::array()); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) override {
    std::string what = ex.what();
    const std::size_t colon = what.find(": ", what.find("parse error"));  // drop "[json.exception...] ... N: "
    if (colon != std::string::npos) what = what.substr(colon + 2);
    fail(position, what);
  }

 private:
  struct Open {
    Json value;
    std::string key;
    std::unordered_map<std::string, std::size_t> members;  // objects: name -> position
  };

  [[noreturn]] void fail(std::size_t position, const std::string& what) const {
    std::size_t line = 1, col = 1;
    for (std::size_t k = 0; k + 1 < position && k < text_.size(); ++k) {
      if (text_[k] == '\n') ++line, col = 1;
      else ++col;
    }
    throw std::runtime_error("JSON " + std::to_string(line) + ":" + std::to_string(col) + ": " + what);
  }
  bool fail_at_end(const std::string& what) const { fail(text_.size(), what); }

  bool open(Json v) {
    if (stack_.size() >= kMaxDepth) throw std::runtime_error("JSON: nested deeper than " + std::to_string(kMaxDepth) + " levels");
    stack_.push_back({std::move(v), {}, {}});
    return true;
  }
  bool close() {
    Open top = std::move(stack_.back());
    stack_.pop_back();
    return add(std::move(top.value));
  }
  bool add(Json v) {
    if (stack_.empty()) {
      result = std::move(v);
      return true;
    }
    Open& top = stack_.back();
    if (top.value.is_array()) {
      top.value.push_back(std::move(v));
      return true;
    }
    const auto [it, fresh] = top.members.emplace(top.key, top.value.size());
    if (fresh) top.value.append_member(std::move(top.key), std::move(v));
    else top.value.member_at(it->second) = std::move(v);
    return true;
  }

  const std::string& text_;
  std::vector<Open> stack_;
};

nlohmann::ordered_json to_library(const Json& j) {
  switch (j.type()) {
    case Json::Type::null: return nullptr;
    case Json::Type::boolean: return j.as_bool();
    case Json::Type::number: {
      const double d = j.as_number();
      if (!std::isfinite(d)) return nullptr;  // JSON has no NaN or infinity: "unknown"
      if (d == std::floor(d) && std::fabs(d) < 9.2e18) return static_cast<int64_t>(d);
      return d;
    }
    case Json::Type::string: return j.as_string();
    case Json::Type::array: {
      nlohmann::ordered_json a = nlohmann::ordered_json::array();
      for (const auto& x : j.as_array()) a.push_back(to_library(x));
      return a;
    }
    case Json::Type::object: {
      nlohmann::ordered_json o = nlohmann::ordered_json::object();
      for (const auto& [k, v] : j.as_object()) o[k] = to_library(v);
      return o;
    }
  }
  return nullptr;
}

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

std::string Json::dump(int indent) const {
  // Invalid UTF-8 in a string (bytes from an HDF5 attribute, say) is written as U+FFFD rather than refused.
  return to_library(*this).dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Json Json::parse(const std::string& text) {
  const std::string clean = without_non_finite_words(text);
  Builder b(clean);
  nlohmann::json::sax_parse(clean, &b, nlohmann::json::input_format_t::json, /*strict=*/true);
  return std::move(b.result);
}

void Json::append_member(std::string key, Json value) {
  if (type_ == Type::null) type_ = Type::object;
  if (type_ != Type::object) type_mismatch(Type::object, type_);
  obj_.emplace_back(std::move(key), std::move(value));
}

Json& Json::member_at(std::size_t k) { return obj_.at(k).second; }

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
