// An SSH grant end to end, for the SSH tests: PostgreSQL as the store, the real aponod offering a
// throwaway sshd that trusts the broker's CA, and alice logged in with the real CLI.
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
#include "tests/support/sshd_fixture.hpp"

namespace apono::test {

/// sshd trusting the broker's CA for principal "apono-LOGIN" as LOGIN (the user running the
/// tests); the broker offering that host as resource `local-sshd` of integration `ssh-local`.
struct ssh_stack {
  pg_fixture pg;                      ///< the broker's store
  sshd_fixture sshd;                  ///< the host
  std::unique_ptr<broker_fixture> b;  ///< aponod
  cli_fixture cli;                    ///< alice's CLI config and home
  temp_dir runtime{"apono-runtime"};  ///< XDG_RUNTIME_DIR for the CLI

  /// Starts everything; `host_key` replaces the host key the broker vouches for (empty: sshd's).
  explicit ssh_stack(const std::string& host_key = {});

  /// The login on the host (the user running the tests).
  [[nodiscard]] static const std::string& login();
  /// The principal the broker certifies for it.
  [[nodiscard]] static std::string principal();

  /// The CLI's environment, XDG_RUNTIME_DIR included.
  [[nodiscard]] std::map<std::string, std::string> env() const;
  /// Runs apono with env().
  cli_result apono(const std::vector<std::string>& args) const;
  /// An ACTIVE grant of the login on the host for `duration`; returns its id.
  std::string grant(const std::string& duration);
  /// The grant end the broker recorded for `id`.
  common::time_point ends_at(const std::string& id);
  /// The shell command for a tmux pane: apono ARGS with env(), then how it ended
  /// (`report_exit`) and whether the terminal is back in cooked mode, then a long sleep.
  [[nodiscard]] std::string in_pane(const std::string& args) const;
  /// The directory `access use` keeps the session files in.
  [[nodiscard]] std::filesystem::path use_dir(const std::string& id) const;
};

}  // namespace apono::test
