// `apono mcp`: an MCP server on stdin/stdout for AI tools (Claude Desktop, VS Code...), with
// the user's login profile. It requests and uses access for the model without ever handing
// it a password: SQL runs through the grant's local proxy inside this process.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <mutex>

#include "cli/commands.hpp"
#include "cli/mcp/server.hpp"
#include "cli/mcp/stdio_transport.hpp"
#include "cli/mcp/tool_registry.hpp"
#include "cli/mcp/tools/query_runner.hpp"
#include "cli/profiles.hpp"
#include "common/duration.hpp"

namespace apono::cli {

namespace {

struct mcp_options {
  std::string max_wait = "45s";
  std::string statement_timeout = "30s";
  std::size_t row_limit = 200;
};

std::chrono::seconds seconds_option(const std::string& flag, const std::string& v,
                                    std::chrono::seconds most) {
  auto d = common::parse_duration(v);
  if (!d || d->count() < 1 || *d > most)
    throw usage_error("invalid " + flag + " '" + v + "': use 1s to " +
                      common::format_duration(most) + ", e.g. 30s");
  return *d;
}

}  // namespace

int run_mcp(const global_options& g, const mcp_options& o, io& streams) {
  mcp::server_settings settings;
  // Clients give up on a request after 60 s unless told otherwise: answer well before.
  settings.max_wait = seconds_option("--max-wait", o.max_wait, std::chrono::seconds{55});
  settings.statement_timeout =
      seconds_option("--statement-timeout", o.statement_timeout, std::chrono::hours{1});
  if (o.row_limit < 1 || o.row_limit > 10000)
    throw usage_error("invalid --row-limit: use 1 to 10000");
  settings.row_limit = o.row_limit;

  // A client that quits mid-answer must not kill us with SIGPIPE before we clean up.
  ::signal(SIGPIPE, SIG_IGN);
  std::mutex log_mutex;
  auto log = [&](const std::string& line) {
    std::lock_guard lock(log_mutex);
    streams.err << "apono mcp: " << line << "\n" << std::flush;
  };
  try {
    auto profiles = load_profiles();
    const auto& p = resolve_profile(profiles, g.profile);
    log("serving profile " + p.name + " (" + p.user + " at " + p.server + ")");
  } catch (const std::exception& e) {
    // Still serve: the tools say the same, and the client shows it to the user.
    log(std::string("no usable profile yet: ") + e.what());
  }

  if (::isatty(STDIN_FILENO) == 1)
    log("waiting for an MCP client on stdin: AI tools start this command themselves (see "
        "docs/mcp.md); Ctrl-D ends it");

  mcp::tool_registry tools;
  mcp::add_catalog_tools(tools);
  mcp::add_request_tools(tools);
  mcp::add_access_tools(tools);
  mcp::grant_sessions sessions;
  mcp::stdio_transport transport(STDIN_FILENO, STDOUT_FILENO);
  int status = 0;
  {
    mcp::server s(g, settings, tools, sessions, transport, log, mcp::database_grants_read_only);
    status = s.run();
  }
  sessions.clear();
  return status;
}

void setup_mcp(CLI::App& app, global_options& g, io& streams) {
  auto o = std::make_shared<mcp_options>();
  auto* cmd = app.add_subcommand(
      "mcp", "serve AI tools over MCP (stdio): request access and query databases, no passwords");
  cmd->add_option("--max-wait", o->max_wait,
                  "wait_for_access returns by then with the current status (at most 55s)")
      ->capture_default_str();
  cmd->add_option("--statement-timeout", o->statement_timeout,
                  "query_database stops a statement running longer")
      ->capture_default_str();
  cmd->add_option("--row-limit", o->row_limit, "query_database returns at most this many rows")
      ->capture_default_str();
  cmd->callback([o, &g, &streams] {
    if (int status = run_mcp(g, *o, streams); status != 0) throw exit_status(status);
  });
}

}  // namespace apono::cli
