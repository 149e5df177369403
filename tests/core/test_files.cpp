#include <unistd.h>

#include "sne_catch.h"
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/files.h"
#include "core/lock.h"

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

TEST_CASE("an output lock admits one writer and names it to the next") {
  const std::string dir = (fs::temp_directory_path() / ("sne-lock-" + std::to_string(::getpid()))).string();
  fs::create_directories(dir);
  const std::string path = dir + "/zoo.h5.lock";
  {
    sne::OutputLock first = sne::OutputLock::acquire(path, "zoo.h5");
    CHECK(first.held());
    // Another open file description is another writer, even in this process.
    try {
      sne::OutputLock::acquire(path, "zoo.h5");
      FAIL("a second writer got the lock");
    } catch (const sne::IoError& e) {
      CHECK_THAT(e.what(), Catch::Contains("zoo.h5: in use by sne pid " + std::to_string(::getpid())));
    }
    first.release();
    CHECK_FALSE(fs::exists(path));  // released: the file is gone
    sne::OutputLock again = sne::OutputLock::acquire(path, "zoo.h5");
    CHECK(again.held());
  }
  CHECK_FALSE(fs::exists(path));
  CHECK_THROWS_WITH(sne::OutputLock::acquire(dir + "/missing/x.lock", "x"), Catch::Contains("cannot create the lock file"));
  fs::remove_all(dir);
}
