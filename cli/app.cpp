// The CLI's one place for turning failures into `Error: ...` lines and exit statuses.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "cli/ssh_config_access.hpp"
#include "common/error.hpp"

namespace apono::cli {

void setup_commands(CLI::App& app, global_options& g, io& streams) {
  setup_login(app, g, streams);
  setup_catalog(app, g, streams);
  setup_requests(app, g, streams);
  setup_access(app, g, streams);
  setup_admin(app, g, streams);
  setup_completion(app, g, streams);
  setup_mcp(app, g, streams);
  setup_version(app, g, streams);
}

int run(int argc, char** argv, io streams) {
  spdlog::set_level(spdlog::level::off);  // the CLI speaks through its output, not logs
  CLI::App app{"apono: just-in-time access from your terminal", "apono"};
  app.set_version_flag("--version", std::string("apono ") + APONO_VERSION);
  global_options g;
  app.add_option("--profile", g.profile, "use this profile instead of the active one");
  app.require_subcommand(0, 1);
  // Lets `apono integrations --profile x` work like `apono --profile x integrations`.
  app.fallthrough();
  setup_commands(app, g, streams);
  try {
    app.parse(argc, argv);
    // Any run tidies away the --ssh-config files of grants whose end has passed.
    sweep_ended_ssh_configs(g);
    if (app.get_subcommands().empty()) return run_interactive(g, streams);
    return 0;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, streams.out, streams.err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, streams.out, streams.err);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e, streams.out, streams.err);
  } catch (const exit_status& e) {
    return e.status();
  } catch (const CLI::ParseError& e) {
    streams.err << "Error: " << e.what() << "\n";
    return 2;
  } catch (const usage_error& e) {
    streams.err << "Error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    streams.err << "Error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace apono::cli
