// Runs the real `apono` binary for CLI tests, with its own config dir and home, so tests
// never touch the user's profiles. stdout and stderr are kept apart (JSON goes to stdout).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace apono::test {

/// The outcome of one `apono` run.
struct cli_result {
  int status = -1;  ///< exit status (128+signal if killed)
  std::string out;  ///< stdout
  std::string err;  ///< stderr
};

/// A private XDG_CONFIG_HOME and HOME for `apono` runs.
class cli_fixture {
 public:
  cli_fixture();
  /// Runs `apono args...` with `input` on stdin and `env` added; waits at most 60 s.
  cli_result apono(const std::vector<std::string>& args, const std::string& input = {},
                   const std::map<std::string, std::string>& env = {}) const;
  /// The environment every run gets (XDG_CONFIG_HOME, HOME, no TERM prompts).
  [[nodiscard]] std::map<std::string, std::string> env() const;
  /// $XDG_CONFIG_HOME/apono.
  [[nodiscard]] std::filesystem::path config_dir() const { return home_.path / "config" / "apono"; }
  /// The fake home directory.
  [[nodiscard]] const std::filesystem::path& home() const { return home_.path; }

 private:
  temp_dir home_{"apono-cli-test"};
};

}  // namespace apono::test
