#include "generators/zoo_output.h"

#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/lock.h"
#include "core/strings.h"

namespace sne::generators {

std::string recipe_difference(const Json& existing, const Json& wanted, const std::string& generator) {
  const Json* name = existing.find("name");
  const Json* recipe = existing.find("recipe");
  if (!name || !name->is_string() || name->as_string() != generator || !recipe || !recipe->is_object())
    return "it was not made by the " + generator + " generator";
  std::vector<std::string> diff;
  for (const auto& [key, value] : wanted.at("recipe").as_object()) {
    const Json* other = recipe->find(key);
    if (!other || *other != value)
      diff.push_back(key + " " + (other ? other->dump() : std::string("missing")) + " vs " + value.dump());
  }
  return diff.empty() ? "" : "the recipe differs in " + join(diff);
}

std::unique_ptr<zoo::ZooWriter> open_generator_output(const std::string& path, const Json& provenance,
                                                      const std::string& generator,
                                                      const std::function<void(const zoo::ZooFile&)>& read_existing) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(path, ec)) {
    // A zoo another process is writing is refused by its lock, before its half-written file is read.
    OutputLock lock = OutputLock::acquire(path + ".lock", path);
    {
      std::shared_ptr<zoo::ZooFile> existing;
      try {
        zoo::ZooWriter::repair_torn_tail(path);  // a flush a full disk or a kill cut short (zoo_writer.h)
        lock.release();
        existing = zoo::ZooFile::open(path);
      } catch (const DataError& e) {
        throw IoError(path + ": exists and is not a readable zoo; refusing to overwrite it (" + e.what() + ")");
      }
      const std::string diff = recipe_difference(existing->provenance(), provenance, generator);
      if (!diff.empty())
        throw IoError(path + ": exists and holds a different zoo (" + diff + "); choose another output or delete it");
      read_existing(*existing);
    }  // closed before it is reopened for writing
    return zoo::ZooWriter::open_append(path);
  }
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::exists(parent, ec) && !fs::create_directories(parent, ec))
    throw IoError(path + ": cannot create directory '" + parent.string() + "' (" + ec.message() + ")");
  return zoo::ZooWriter::create(path, provenance);
}

}  // namespace sne::generators
