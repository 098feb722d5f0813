// Where input lines come from: a terminal through libedit's callback interface (line editing
// and history), or a pipe or file read without prompts. Both wait through waiter, so the end of
// access interrupts a prompt that is waiting for the user.
#pragma once

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "launchers/shell/waiter.hpp"

namespace apono::launchers::shell {

/// How a read ended.
enum class input_status {
  line,          ///< a line was read
  eof,           ///< end of input (Ctrl-D at an empty prompt)
  access_ended,  ///< the grant ended while waiting
  interrupted,   ///< Ctrl-C: the line being typed was dropped
};

/// Lines from a descriptor that is not a terminal (psql < file).
class fd_line_reader {
 public:
  /// Reads `fd` (not owned).
  fd_line_reader(int fd, const waiter& wait) : fd_(fd), wait_(wait) {}
  /// The next line without its newline; a last line without one counts too.
  [[nodiscard]] input_status next(std::string& line);

 private:
  int fd_;
  const waiter& wait_;
  std::string buffer_;
  bool eof_ = false;
};

/// Interactive input on a terminal with libedit; one per shell run.
class editline_input {
 public:
  /// Sets libedit up on `in`/`out` and loads the history from `history_file` (empty: none).
  editline_input(std::FILE* in, std::FILE* out, const waiter& wait,
                 std::filesystem::path history_file);
  /// Saves the history (0600 file in a 0700 directory) and leaves the terminal as it was.
  ~editline_input();
  editline_input(const editline_input&) = delete;
  editline_input& operator=(const editline_input&) = delete;

  /// Shows `prompt` and waits for a line. On access_ended and interrupted the prompt line has
  /// been ended with a newline and the terminal restored. When the line is drawn again after
  /// the server spoke, `refresh` (if set) gives the prompt anew (its time left has moved on).
  [[nodiscard]] input_status read(const std::string& prompt, std::string& line,
                                  const std::function<std::string()>& refresh = {});
  /// Adds an entry (a whole statement, possibly multi-line) to the history.
  void add_history(const std::string& entry);
  /// While a prompt waits, `read_server` is called whenever the server's descriptor
  /// (`fd_of_server()`, -1 for none) is readable; what it prints appears above the line being
  /// typed, which is then drawn again. It returns false when the server is gone, and is not
  /// called again in that read.
  void watch_server(std::function<int()> fd_of_server, std::function<bool()> read_server);

 private:
  std::FILE* in_;
  std::FILE* out_;
  const waiter& wait_;
  std::filesystem::path history_file_;
  std::vector<std::string> history_;
  std::function<int()> server_fd_;
  std::function<bool()> read_server_;
};

/// $XDG_STATE_HOME/apono/shell_history, else ~/.local/state/apono/shell_history; empty when
/// neither variable is set.
[[nodiscard]] std::filesystem::path default_history_file();

}  // namespace apono::launchers::shell
