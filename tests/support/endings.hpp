// Timing how fast sessions end: several things that should end at once (programs in tmux panes,
// child processes), watched side by side. A pane reports the moment its program exited itself
// (`EXIT=N AT=<unix ms>`, written by the pane's shell), because looking at a pane forks a tmux
// client that can take longer than the bound under test on loaded cores; anything else is
// stamped when the cheap look that saw it ended returned.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/time.hpp"
#include "tests/support/tmux_pane.hpp"

namespace apono::test {

/// Something that ends: a program in a pane, or a child process.
struct ending {
  std::string name;            ///< for messages
  std::function<bool()> done;  ///< true once it has ended; polled
  /// When it says it ended, if it does; called right after `done` returned true.
  std::function<std::optional<common::time_point>()> reported{};
  common::time_point at{};  ///< when it ended, reported or seen (epoch: not yet)
};

/// What a pane's command runs right after the program under test: its exit status and the wall
/// time it exited, in milliseconds, for pane_exit().
inline constexpr const char* report_exit = "echo EXIT=$? AT=$(date +%s%3N)";

/// The program in `pane`, whose command line runs `report_exit` after it, as an ending.
[[nodiscard]] ending pane_exit(std::string name, tmux_pane& pane);

/// Polls every `ending` (each on a thread of its own, so `done` must be safe to call beside the
/// others) until all are done or `timeout`; records when each ended.
void watch_endings(std::vector<ending>& all, std::chrono::milliseconds timeout);

/// CHECKs that every ending in `all` was seen, less than 1 s after `from` (a grant's end, a
/// revoke) and, given `early`, no more than that before it; prints "<what> -> <name> ended: N ms".
void check_ended_within_1s(const std::vector<ending>& all, common::time_point from,
                           const std::string& what,
                           std::optional<std::chrono::milliseconds> early = std::nullopt);

/// For a grant whose clock the test cannot hold (the broker's): REQUIREs that `what` (the last
/// step that must happen during the grant) was done now, at least `margin` before `end`, and
/// prints how long before it that was, so that a machine too loaded for the grant's length says
/// so here rather than as a confusing failure later.
void require_before_end(const std::string& what, common::time_point end,
                        std::chrono::milliseconds margin = std::chrono::seconds{2});

}  // namespace apono::test
