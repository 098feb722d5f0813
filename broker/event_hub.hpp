// Wakes long-polling /events requests when a status changes. Waiters compare a sequence
// number so a change between "read the store" and "start waiting" is never missed.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>

namespace apono::broker {

/// Thread-safe notifier for coroutine waiters.
class event_hub {
 public:
  /// The current sequence; read it before checking the store.
  [[nodiscard]] std::uint64_t sequence() const;
  /// Called after a committed change, from any thread.
  void notify();
  /// Suspends until the sequence moves past `seen`, `timeout` passes, or stop() is called.
  boost::asio::awaitable<void> wait(std::uint64_t seen, std::chrono::milliseconds timeout);
  /// Releases every waiter and makes later waits return at once (shutdown).
  void stop();
  /// True once stop() was called: a long-poll answers with what it has instead of waiting.
  [[nodiscard]] bool stopped() const;
  /// How many waits are suspended now (for /metrics, and tests that need a poll to be waiting).
  [[nodiscard]] std::size_t waiting() const;

 private:
  mutable std::mutex mutex_;
  std::uint64_t seq_ = 0;
  bool stopped_ = false;
  std::set<std::shared_ptr<boost::asio::steady_timer>> waiters_;
};

}  // namespace apono::broker
