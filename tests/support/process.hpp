// Process helpers for tests: temp dirs, free ports, running commands, owning child processes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace apono::test {

/// A fresh 0700 directory under $TMPDIR (or /tmp), removed by the caller or left for debugging.
[[nodiscard]] std::filesystem::path make_temp_dir(std::string_view prefix);
/// A make_temp_dir that removes itself (and everything in it) when it goes out of scope.
class temp_dir {
 public:
  /// Creates the directory; `prefix` names it for debugging.
  explicit temp_dir(std::string_view prefix = "apono-test") : path(make_temp_dir(prefix)) {}
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  /// The directory.
  const std::filesystem::path path;
};

/// A TCP port on 127.0.0.1 that was free a moment ago.
[[nodiscard]] int free_port();

/// Single-quotes `s` for sh.
[[nodiscard]] std::string quote(const std::string& s);

/// Result of a finished command.
struct run_result {
  int status = -1;     ///< exit status, or 128+signal
  std::string output;  ///< stdout and stderr interleaved
};

/// Runs `argv` (PATH searched), feeding `input` on stdin, with `env` added to the environment;
/// waits at most `timeout` (then kills it and returns status -1).
[[nodiscard]] run_result run(const std::vector<std::string>& argv, const std::string& input = {},
                             const std::map<std::string, std::string>& env = {},
                             std::chrono::seconds timeout = std::chrono::seconds{60});

/// A child process that is killed (SIGKILL) and reaped when this object dies.
class child_process {
 public:
  /// Starts `argv` with stdout and stderr appended to `log_file`; throws on failure.
  child_process(const std::vector<std::string>& argv, const std::filesystem::path& log_file,
                const std::map<std::string, std::string>& env = {});
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  /// The process id.
  [[nodiscard]] pid_t pid() const { return pid_; }
  /// Sends `sig`.
  void signal(int sig);
  /// Waits for exit up to `timeout`; returns the status (128+signal) or -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  /// True while it has not exited.
  [[nodiscard]] bool running();

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

/// Polls `pred` every 10 ms until it is true or `timeout` passes; returns the last result.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

/// The permission bits of `path` (e.g. 0600); throws std::runtime_error when it cannot stat it.
[[nodiscard]] unsigned file_mode(const std::filesystem::path& path);

/// True when `program` is found on PATH.
[[nodiscard]] bool on_path(const std::string& program);

/// True when the kubectl on PATH reads `client.authentication.k8s.io/v1` exec plugins (1.22 and
/// later; Debian 12's kubernetes-client is 1.20).
[[nodiscard]] bool kubectl_has_exec_v1();

/// Sets (or, given nullopt, unsets) an environment variable for one scope.
class scoped_env {
 public:
  /// Sets `name` to `value` (unsets it for nullopt) until destruction.
  scoped_env(const char* name, std::optional<std::string> value);
  /// Puts the old value back.
  ~scoped_env();
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace apono::test
