#pragma once
// Small string helpers shared by config and zoo code.
#include <string>
#include <vector>

namespace sne {

/// Edit distance (insert, delete, substitute, each cost 1).
std::size_t edit_distance(const std::string& a, const std::string& b);

/// The candidate closest to `word`, or "" when nothing is close enough to be a plausible typo.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

/// `s` without leading and trailing blanks (spaces, tabs, CR, LF).
std::string trim(const std::string& s);

/// "a, b,c" -> {"a", "b", "c"}: items split at `sep`, trimmed, blank ones dropped.
std::vector<std::string> split_list(const std::string& text, char sep = ',');

/// The first item that occurs twice in `items`, or "" when they are distinct.
std::string first_duplicate(const std::vector<std::string>& items);

/// "a, b, c"
std::string join(const std::vector<std::string>& parts, const std::string& sep = ", ");

/// Shortest round-trip decimal text of a double ("0.001", "1e-15", "nan").
std::string format_number(double v);

}  // namespace sne
