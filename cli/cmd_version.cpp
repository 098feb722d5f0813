// `apono version`: works without a login.
#include "cli/commands.hpp"

#include <CLI/CLI.hpp>

namespace apono::cli {

void setup_version(CLI::App& app, global_options&, io& streams) {
  auto* cmd = app.add_subcommand("version", "print the version");
  cmd->callback([&streams] { streams.out << "apono " << APONO_VERSION << "\n"; });
}

}  // namespace apono::cli
