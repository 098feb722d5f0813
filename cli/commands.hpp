// Every command's setup function; each lives in its own cmd_*.cpp and registers its
// subcommand(s) with their options and callback.
#pragma once

#include "cli/context.hpp"

namespace apono::cli {

/// `login`, `logout`, `profiles list|set` (cmd_login.cpp).
void setup_login(CLI::App& app, global_options& g, io& streams);
/// `integrations`, `resource-types`, `resources`, `permissions`, `bundles` (cmd_catalog.cpp).
void setup_catalog(CLI::App& app, global_options& g, io& streams);
/// `request`, `requests create|list|describe|revoke|again`, `approve`, `reject`
/// (cmd_requests.cpp).
void setup_requests(CLI::App& app, global_options& g, io& streams);
/// `access list|use|reset-credentials`, `access-details` (cmd_access.cpp).
void setup_access(CLI::App& app, global_options& g, io& streams);
/// `access connect` (cmd_access_connect.cpp) and `access proxy` (cmd_access_proxy.cpp),
/// registered under `access`.
void setup_access_connect(CLI::App& access, global_options& g, io& streams);
/// `apono access connect ID` with the built-in shell; returns the shell's exit status.
[[nodiscard]] int run_access_connect(const global_options& g, const std::string& id);
/// `access proxy`: the local proxy alone, for GUI tools (cmd_access_proxy.cpp).
void setup_access_proxy(CLI::App& access, global_options& g, io& streams);
/// `completion bash|zsh|fish|powershell` (cmd_completion.cpp).
void setup_completion(CLI::App& app, global_options& g, io& streams);
/// `apono` with no arguments: the interactive flow (cmd_interactive.cpp). Returns the exit
/// status; without a terminal on stdin it says to use flags and returns 2.
int run_interactive(const global_options& g, io& streams);
/// `admin deliveries list|show|redeliver`, `admin endpoints list|test|enable` (cmd_admin.cpp).
void setup_admin(CLI::App& app, global_options& g, io& streams);
/// `mcp`: the MCP server for AI tools on stdin/stdout (cmd_mcp.cpp, cli/mcp/).
void setup_mcp(CLI::App& app, global_options& g, io& streams);
/// `version` (cmd_version.cpp).
void setup_version(CLI::App& app, global_options& g, io& streams);

}  // namespace apono::cli
