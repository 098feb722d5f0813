// What the launchers of native clients (psql, ssh) share: starting the client on the user's
// terminal with the signals it expects, and waiting for it.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace apono::launchers {

/// While a client owns the terminal, Ctrl-C and Ctrl-\ are for it alone, as with system(3).
class ignore_interactive_signals {
 public:
  /// Ignores SIGINT and SIGQUIT in this process.
  ignore_interactive_signals();
  /// Puts the previous dispositions back.
  ~ignore_interactive_signals();
  ignore_interactive_signals(const ignore_interactive_signals&) = delete;
  ignore_interactive_signals& operator=(const ignore_interactive_signals&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_quit_ {};
};

/// Starts `args` (args[0] looked up in PATH) with SIGINT, SIGQUIT and SIGPIPE at their
/// defaults and no signal blocked, as a shell would; throws std::runtime_error
/// "cannot run X: REASON" with ` (missing_hint)` when X is not installed.
[[nodiscard]] pid_t spawn_client(std::vector<std::string> args, const std::string& missing_hint);
/// Waits up to `timeout` for `pid`; true and `status` set when it exited.
bool wait_for(pid_t pid, int& status, std::chrono::milliseconds timeout);
/// A wait status as a shell shows it: the exit code, or 128 + the signal.
[[nodiscard]] int exit_code(int status);

}  // namespace apono::launchers
