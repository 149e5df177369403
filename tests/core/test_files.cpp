#include <unistd.h>

#include "sne_catch.h"
#include <filesystem>
#include <fstream>

#include "core/files.h"

namespace fs = std::filesystem;

TEST_CASE("remove_tree removes a directory tree, leaves what a link points to, and accepts a missing path") {
  const fs::path root = fs::temp_directory_path() / ("sne_files_" + std::to_string(::getpid()));
  const fs::path outside = root.string() + "_outside";
  fs::create_directories(root / "a" / "b");
  fs::create_directories(outside);
  std::ofstream(root / "a" / "b" / "f.txt") << "x";
  std::ofstream(root / "top.txt") << "y";
  std::ofstream(outside / "keep.txt") << "z";
  fs::create_directory_symlink(outside, root / "link");
  std::error_code ec;
  sne::remove_tree(root.string(), ec);
  CHECK(!ec);
  CHECK(!fs::exists(root));
  CHECK(fs::exists(outside / "keep.txt"));  // the link was removed, not followed
  sne::remove_tree(root.string(), ec);      // already gone: fine
  CHECK(!ec);
  sne::remove_tree((outside / "keep.txt").string(), ec);  // a plain file
  CHECK(!ec);
  CHECK(!fs::exists(outside / "keep.txt"));
  sne::remove_tree(outside.string(), ec);
  CHECK(!fs::exists(outside));
}
