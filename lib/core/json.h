#pragma once
// A small JSON value: architecture specs, provenance, manifests and metrics logs are JSON text.
// Numbers are doubles (integers are exact up to 2^53); objects keep their insertion order.
// Text is read and written by nlohmann-json (Debian's nlohmann-json3-dev). NaN and infinities are written as
// null (JSON has neither); the words NaN, Infinity and -Infinity that Python's json writes are read as null.
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sne {

class Json {
 public:
  enum class Type { null, boolean, number, string, array, object };
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;

  Json() = default;
  Json(std::nullptr_t) {}
  Json(bool b) : type_(Type::boolean), bool_(b) {}
  Json(double d) : type_(Type::number), num_(d) {}
  Json(int i) : Json(static_cast<double>(i)) {}
  Json(long i) : Json(static_cast<double>(i)) {}
  Json(long long i) : Json(static_cast<double>(i)) {}
  Json(unsigned long i) : Json(static_cast<double>(i)) {}
  Json(unsigned long long i) : Json(static_cast<double>(i)) {}
  Json(const char* s) : type_(Type::string), str_(s) {}
  Json(std::string s) : type_(Type::string), str_(std::move(s)) {}
  Json(Array a) : type_(Type::array), arr_(std::move(a)) {}
  static Json object() { Json j; j.type_ = Type::object; return j; }
  static Json array() { return Json(Array{}); }

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::null; }
  bool is_number() const { return type_ == Type::number; }
  bool is_string() const { return type_ == Type::string; }
  bool is_array() const { return type_ == Type::array; }
  bool is_object() const { return type_ == Type::object; }
  bool is_bool() const { return type_ == Type::boolean; }

  /// Typed access; throws std::runtime_error naming the expected type when the value has another.
  bool as_bool() const;
  double as_number() const;
  /// The number as an integer; throws when it has a fractional part.
  long long as_int() const;
  const std::string& as_string() const;
  const Array& as_array() const;
  Array& as_array();
  const Object& as_object() const;

  /// Object member access; `at` throws when missing, `find` returns nullptr.
  const Json& at(const std::string& key) const;
  const Json* find(const std::string& key) const;
  /// Inserts or replaces a member (this must be an object or null, which becomes an object).
  Json& set(const std::string& key, Json value);
  void push_back(Json value);
  /// Appends a member without looking for one of the same name (the parser's path; it keeps names unique).
  void append_member(std::string key, Json value);
  /// The value of the k-th member of an object.
  Json& member_at(std::size_t k);
  std::size_t size() const;

  /// Compact text when indent < 0, pretty-printed otherwise. Integral numbers are written without a fraction.
  std::string dump(int indent = -1) const;
  /// Parses JSON text; throws std::runtime_error ("JSON LINE:COLUMN: what") on malformed input, including
  /// nesting deeper than 512 levels. A member name given twice keeps its last value.
  static Json parse(const std::string& text);

  friend bool operator==(const Json& a, const Json& b);
  friend bool operator!=(const Json& a, const Json& b) { return !(a == b); }

 private:

  Type type_ = Type::null;
  bool bool_ = false;
  double num_ = 0.0;
  std::string str_;
  Array arr_;
  Object obj_;
};

}  // namespace sne
