// A real terminal for tests: a detached tmux server of our own with one pane, keys sent and
// the screen read back. Killed with everything in it when the object dies, however the test
// ends, so nothing is left behind in /tmp/tmux-UID.
#pragma once

#include <chrono>
#include <string>

#include "tests/support/process.hpp"

namespace apono::test {

/// One tmux pane, 120x40.
class tmux_pane {
 public:
  tmux_pane();
  ~tmux_pane();
  tmux_pane(const tmux_pane&) = delete;
  tmux_pane& operator=(const tmux_pane&) = delete;

  /// Runs `command` with the user's shell in the pane.
  void start(const std::string& command);
  /// Sends tmux key names (Enter, Down, Space, C-c) or, with `literal`, text as typed.
  void send(const std::string& keys, bool literal = false);
  /// Resizes the window (and so the pane) to `cols` x `rows` and waits until tmux reports it;
  /// the program in the pane gets SIGWINCH.
  void resize(int cols, int rows);
  /// The pane with its scrollback; wrapped lines joined so long lines stay whole.
  std::string screen();
  /// Waits until `text` is on the screen and returns the screen (REQUIREs it). Generous by
  /// default: a wait for readiness only costs time when it fails.
  std::string wait_for(const std::string& text,
                       std::chrono::milliseconds timeout = std::chrono::seconds{30});

 private:
  temp_dir dir_{"apono-tmux"};
  std::string socket_;
};

}  // namespace apono::test
