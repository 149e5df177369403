#pragma once
// File-system helpers that std::filesystem cannot be trusted with everywhere: a LibTorch from a PyTorch wheel
// exports std::filesystem symbols of its own, and its remove_all crashes when our code binds to it.
#include <string>
#include <system_error>

namespace sne {

/// Removes `path` and, if it is a directory, everything under it (symbolic links are removed, not followed).
/// A missing path is not an error. On failure `ec` holds the first error; removal stops there.
void remove_tree(const std::string& path, std::error_code& ec);

}  // namespace sne
