#include "generators/recipe.h"

#include <vector>

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

}  // namespace sne::generators
