// Timing how fast sessions end: several things that should end at once (panes showing EXIT=N,
// child processes), polled together; each end is stamped with the start of the round that saw it,
// which lies between the last look that saw it running and the first that saw it done.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/time.hpp"

namespace apono::test {

/// Something that ends: a pane showing EXIT=N, or a child process.
struct ending {
  std::string name;            ///< for messages
  std::function<bool()> done;  ///< true once it has ended; polled
  common::time_point at{};     ///< when it was first seen done (epoch: not yet)
};

/// Polls every `ending` (each on a thread of its own, so `done` must be safe to call beside the
/// others) until all are done or `timeout`; records when each was seen done.
void watch_endings(std::vector<ending>& all, std::chrono::milliseconds timeout);

/// For a grant whose clock the test cannot hold (the broker's): REQUIREs that `what` (the last
/// step that must happen during the grant) was done now, at least `margin` before `end`, and
/// prints how long before it that was, so that a machine too loaded for the grant's length says
/// so here rather than as a confusing failure later.
void require_before_end(const std::string& what, common::time_point end,
                        std::chrono::milliseconds margin = std::chrono::seconds{2});

}  // namespace apono::test
