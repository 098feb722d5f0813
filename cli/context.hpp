// What every command shares: the global options, the usage error type, and the way a
// command reaches the broker and prints its results.
#pragma once

#include <iosfwd>
#include <stdexcept>
#include <string>

// CLI11 is header-only and costs seconds of compile time in every file that includes it: the
// files that define commands include it themselves, the rest only pass the App along.
namespace CLI {
class App;
}  // namespace CLI

namespace apono::cli {

/// Options given before or after any subcommand.
struct global_options {
  std::string profile;           ///< --profile NAME; empty = the active profile
  std::string output = "table";  ///< -o table|json|yaml (and command-specific formats)
};

/// A mistake in how the command was called; exits 2 with `Error: <what>`.
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Ends a command with `status` and nothing more printed: the command (or the session it
/// ran) has already said what happened, e.g. the shell's exit status or 3 when access ended.
class exit_status : public std::exception {
 public:
  /// Exit with `status`.
  explicit exit_status(int status) : status_(status) {}
  /// The status.
  [[nodiscard]] int status() const { return status_; }
  [[nodiscard]] const char* what() const noexcept override { return "exit"; }

 private:
  int status_;
};

/// Where a command writes; tests capture both.
struct io {
  std::ostream& out;  ///< results
  std::ostream& err;  ///< progress, notices
};

/// Registers every command on `app`; `g` and `streams` must outlive app.parse().
void setup_commands(CLI::App& app, global_options& g, io& streams);

/// Runs the CLI: parses, dispatches, and turns every failure into `Error: ...` and an exit
/// status (1 for failures, 2 for usage errors).
int run(int argc, char** argv, io streams);

}  // namespace apono::cli
