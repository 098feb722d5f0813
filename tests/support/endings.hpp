// Timing how fast sessions end: several things that should end at once (panes showing EXIT=N,
// child processes), polled together so each end is stamped within ~10 ms of happening.
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

/// Polls every `ending` until all are done or `timeout`; records when each was seen done.
void watch_endings(std::vector<ending>& all, std::chrono::milliseconds timeout);

}  // namespace apono::test
