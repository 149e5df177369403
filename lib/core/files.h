#pragma once
// File-system helpers that std::filesystem cannot be trusted with everywhere: a LibTorch from a PyTorch wheel
// exports std::filesystem symbols of its own, and its remove_all crashes when our code binds to it.
#include <string>
#include <system_error>

namespace sne {

/// Removes `path` and, if it is a directory, everything under it (symbolic links are removed, not followed).
/// A missing path is not an error. On failure `ec` holds the first error; removal stops there.
void remove_tree(const std::string& path, std::error_code& ec);

/// The whole file as text; IoError naming `path` when it cannot be read (a missing file included).
std::string read_text(const std::string& path);
/// Writes `text` to `path` through a temporary file in the same folder and a rename, so that a reader sees the
/// old file or the new one and never a part; IoError naming `path` when it cannot (a full disk included).
void write_text_atomic(const std::string& path, const std::string& text);

}  // namespace sne
