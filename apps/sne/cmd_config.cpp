// sne config show | keys
#include <cstdio>
#include <memory>

#include "commands.h"
#include "common.h"

namespace sne::app {

void add_config_commands(CLI::App& app) {
  auto* config = app.add_subcommand("config", "inspect configurations");
  config->require_subcommand(1);

  auto opts = std::make_shared<CommonOptions>();
  auto* show = config->add_subcommand(
      "show", "print the resolved configuration (defaults < CONFIG files < --set/flags); with no CONFIG, "
              "the embedded default");
  add_common_options(*show, *opts, true);
  show->callback([opts] { std::fputs(config::to_yaml(resolve_config(*opts, true)).c_str(), stdout); });

  auto* keys = config->add_subcommand("keys", "list every setting with its type, default, check and help");
  keys->callback([] {
    for (const auto& s : config::settings()) {
      std::printf("%-32s %-7s default %-18s %s%s%s\n", s.key.c_str(), s.type.c_str(), s.default_text.c_str(),
                  s.help.c_str(), s.check_text.empty() ? "" : "  [", s.check_text.empty() ? "" : (s.check_text + "]").c_str());
    }
  });
}

}  // namespace sne::app
