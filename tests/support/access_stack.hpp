// What the `apono access` end-to-end tests start from: a PostgreSQL 15 with database appdb
// (table notes holding (1, 'hello')), a real aponod over it, alice logged in with the real
// apono CLI, and a private XDG_RUNTIME_DIR, so the tests see the proxy's run directories.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/time.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/cli_fixture.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/process.hpp"

namespace apono::test {

/// PostgreSQL, aponod and a logged-in CLI.
struct access_stack {
  pg_fixture pg;                      ///< the target server
  std::unique_ptr<broker_fixture> b;  ///< the broker (a pointer, so a test can replace it)
  cli_fixture cli;                    ///< alice's CLI config
  temp_dir runtime{"apono-runtime"};  ///< XDG_RUNTIME_DIR of every run

  /// Starts everything and logs alice in; REQUIREs that each step worked.
  access_stack();
  /// The environment of every apono run: the CLI's, plus XDG_RUNTIME_DIR.
  [[nodiscard]] std::map<std::string, std::string> env() const;
  /// Runs `apono args...` with that environment.
  cli_result apono(const std::vector<std::string>& args) const;
  /// An ACTIVE grant on appdb for `duration` (read_only approves itself; anything else is
  /// approved by the approver); returns its id.
  std::string grant(const std::string& duration, const std::string& permission = "read_only");
  /// When request `id` ends, as the broker says.
  common::time_point ends_at(const std::string& id);
};

/// The whole content of `path` ("" when it cannot be read).
[[nodiscard]] std::string read_text(const std::filesystem::path& path);

}  // namespace apono::test
