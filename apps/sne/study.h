#pragma once
// Helpers shared by the multi-run commands (`sne compare`, `sne transfer`): list options, the text files a study
// keeps next to its runs, and table cells.
#include <filesystem>
#include <string>
#include <vector>

#include "core/json.h"

namespace sne::app {

/// The models of a --models option; UsageError naming an unknown one (with a suggestion).
std::vector<std::string> parse_models(const std::string& text);
/// Whole file as text ("" when missing).
std::string read_text_file(const std::filesystem::path& p);
/// Writes (replaces) a text file; IoError when it cannot.
void write_text_file(const std::filesystem::path& p, const std::string& text);
/// A number of a JSON row with `digits` significant digits, or "-" when absent or not a number.
std::string number_cell(const Json& row, const char* key, int digits = 4);
/// A number of a JSON row with `decimals` digits after the point, or "-" when absent or not a number.
std::string fixed_cell(const Json& row, const char* key, int decimals = 3);

}  // namespace sne::app
