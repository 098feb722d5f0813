// The grant's deadline: ends a grant_watch when its end time comes, and says so beforehand at
// the warning moments. The proxy, the SSH session and any other launcher share this one clock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "proxy/grant_watch.hpp"

namespace apono::proxy {

/// Called on the clock's thread when `left` remains; must not block.
using warning_handler = std::function<void(std::chrono::milliseconds left)>;

/// A thread that sleeps until the next warning or the end, by the watch's clock.
class grant_clock {
 public:
  /// Starts the thread; a watch whose end time has passed is ended before this returns. Each
  /// warning still ahead is given once (of several passed at once,
  /// after a suspend, only the nearest). At the end the watch is ended with end_cause::expired (on
  /// this thread, so its on_end callbacks run here).
  grant_clock(grant_watch& watch, std::vector<std::chrono::milliseconds> warnings,
              warning_handler on_warning);
  /// Stops and joins the thread; no handler runs once this returns.
  ~grant_clock();
  grant_clock(const grant_clock&) = delete;
  grant_clock& operator=(const grant_clock&) = delete;

 private:
  void run();

  grant_watch& watch_;
  std::vector<std::chrono::milliseconds> warnings_;  // still to give, largest first
  warning_handler on_warning_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace apono::proxy
