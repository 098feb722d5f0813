// Runs one MCP client scenario of tests/mcp/ (a node script driving `apono mcp` with the
// official MCP TypeScript SDK client) against a real aponod and PostgreSQL, with the CLI
// logged in as alice (the active profile) and as approver (profile `approver`).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/cli_fixture.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/process.hpp"

namespace apono::test {

/// PostgreSQL with database appdb (table notes: 1 'hello'), aponod --dev on it, and the CLI
/// logged in.
struct mcp_stack {
  pg_fixture pg;                      ///< the target and the broker's store
  std::unique_ptr<broker_fixture> b;  ///< aponod --dev
  cli_fixture cli;                    ///< config dir and home for every apono run
  temp_dir runtime{"apono-mcp-run"};  ///< XDG_RUNTIME_DIR: the proxies' socket directories
  mcp_stack();
};

/// Runs `node tests/mcp/NAME.mjs` against `s` with `extra_env` added; CHECKs that it passed,
/// printing its output either way. The script gets the secrets the run knows of (dev users'
/// tokens and passwords) to scan every MCP message for.
void run_mcp_scenario(const std::string& name, const mcp_stack& s,
                      const std::map<std::string, std::string>& extra_env = {});

}  // namespace apono::test
