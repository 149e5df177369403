#pragma once
// The generic machinery behind config.h (private to lib/config): a declared setting is a key, a type, a
// default, a check and a help text, bound to its Config field by an accessor. Everything else (defaults(),
// settings(), YAML binding, overrides, to_yaml, equality) iterates over table(), declared in settings.cpp.
// No yaml-cpp here: values arrive as Scalar text.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "config/config.h"

namespace sne::config::detail {

/// A YAML scalar as written. Quoted text is always a string, never a number or a bool.
struct Scalar {
  std::string text;
  bool quoted = false;
};

/// A constraint on a value: its description (">= 1", "" when unchecked) and a test returning "" when the
/// value passes, else the problem ("must be >= 1, got 0").
template <class T>
struct Check {
  std::string text;
  std::function<std::string(const T&)> problem;
};

Check<int64_t> at_least(int64_t min);
Check<int64_t> between_int(int64_t min, int64_t max);  ///< min <= v <= max
Check<double> greater_than(double min);
Check<double> at_least_number(double min);
Check<double> between(double min, double max);  ///< min <= v <= max
Check<double> positive_at_most(double max);     ///< 0 < v <= max
Check<double> fraction();                       ///< 0 < v <= 1
Check<std::string> non_empty();
template <class T>
Check<T> unchecked() {
  return {};
}

/// Accessor binding a setting to its field, e.g. `[](Config& c) -> int64_t& { return c.run.threads; }`.
template <class T>
using Field = T& (*)(Config&);

/// One declared setting, type-erased.
struct Setting {
  SettingInfo info;
  std::string expected;                                       ///< "an integer", "true or false", ...
  std::function<void(Config&)> reset;                         ///< store the default
  std::function<std::string(const Config&)> render;           ///< the value as YAML scalar text
  std::function<std::string(Config&, const Scalar&)> assign;  ///< parse, check, store; "" or the problem
  std::function<bool(const Config&, const Config&)> equal;
};

// Declaration helpers, one per setting type.
Setting integer(std::string key, Field<int64_t> field, int64_t def, Check<int64_t> check, std::string help);
Setting number(std::string key, Field<double> field, double def, Check<double> check, std::string help);
Setting boolean(std::string key, Field<bool> field, bool def, std::string help);
Setting string(std::string key, Field<std::string> field, std::string def, Check<std::string> check,
               std::string help);
Setting choice(std::string key, Field<std::string> field, std::string def, std::vector<std::string> choices,
               std::string help);

/// Every declared setting, in declaration order (settings.cpp).
const std::vector<Setting>& table();

/// The problems of settings that are each in range but do not fit together, e.g. encoder.heads not dividing
/// encoder.dim (settings.cpp); empty when they fit.
std::vector<std::string> cross_problems(const Config& c);

/// The setting with this dotted key, or nullptr.
const Setting* find(const std::string& key);

/// Whether `key` is a section ("zoo", "zoo.reader"): a proper dotted prefix of some setting's key.
bool is_section(const std::string& key);

/// Every setting key and section name (the candidates for "did you mean").
const std::vector<std::string>& known_names();

/// A string as YAML scalar text: plain when that reads back as the same string, else double-quoted.
std::string quote(const std::string& s);

}  // namespace sne::config::detail
