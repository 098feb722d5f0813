// A wall clock for deadline tests that starts from the test's readiness signal. On two shared
// cores a session can take seconds to open while other tests run, so a grant that ends "N s from
// now" when the test starts can end before the session exists. By this clock it stands still
// until release() (session open, prompt shown, pid written), so the same grant ends N s after
// readiness, and every bound on the cut is still asserted against that end.
// Header-only: the test drivers that run a session in a terminal use it too.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>

#include "common/time.hpp"

namespace apono::test {

/// Stands at its start until release(), then runs with the wall clock; thread-safe.
class ready_clock final : public common::clock {
 public:
  /// Stands at the current wall time.
  ready_clock() : start_ms_(wall_ms()) {}

  /// The start while held; afterwards the start plus the wall time since release().
  [[nodiscard]] common::time_point now() const override {
    const std::int64_t released = released_ms_.load();
    const std::int64_t ms = released == 0 ? start_ms_ : start_ms_ + (wall_ms() - released);
    return common::from_unix_ms(ms);
  }

  /// Starts the clock (once; later calls do nothing).
  void release() {
    std::int64_t expected = 0;
    released_ms_.compare_exchange_strong(expected, wall_ms());
  }

  /// True once release() ran.
  [[nodiscard]] bool released() const { return released_ms_.load() != 0; }

  /// The wall-clock instant at which this clock shows `t` (only meaningful once released).
  [[nodiscard]] common::time_point wall_time_of(common::time_point t) const {
    return common::from_unix_ms(released_ms_.load() + (common::to_unix_ms(t) - start_ms_));
  }

 private:
  static std::int64_t wall_ms() { return common::to_unix_ms(common::system_clock().now()); }

  const std::int64_t start_ms_;
  std::atomic<std::int64_t> released_ms_{0};
};

/// Releases a ready_clock from a thread of its own once `ready` (polled every 10 ms) is true: for
/// a session that runs on the test's own thread until access ends. Stops polling when destroyed.
class release_when {
 public:
  /// Starts polling `ready` for `clock`.
  release_when(ready_clock& clock, std::function<bool()> ready)
      : thread_([&clock, ready = std::move(ready)](std::stop_token stop) {
          while (!stop.stop_requested()) {
            if (ready()) {
              clock.release();
              return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds{10});
          }
        }) {}

 private:
  std::jthread thread_;
};

}  // namespace apono::test
