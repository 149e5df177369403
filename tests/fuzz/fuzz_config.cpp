// The config loader (lib/config): YAML from users' files and from checkpoints. A bad config is a ConfigError
// listing its problems; a config that resolves writes YAML (to_yaml) that resolves to the same config.
#include "config/config.h"
#include "core/error.h"
#include "fuzz_target.h"

SNE_FUZZ_TARGET(data, size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  sne::config::Config c;
  try {
    c = sne::config::resolve({{"fuzz.yaml", text, size % 2 == 1}}, {});
  } catch (const sne::Error&) {
    return 0;
  }
  sne::config::Config back;
  try {
    back = sne::config::resolve({{"to_yaml", sne::config::to_yaml(c), true}}, {});
  } catch (const sne::Error& e) {
    sne_fuzz_fail(std::string("config: to_yaml of a resolved config does not resolve: ") + e.what());
  }
  if (back != c) sne_fuzz_fail("config: to_yaml round trip changed the config");
  return 0;
}
