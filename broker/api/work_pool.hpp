// Where API handlers do their blocking work (store queries, calls to targets): a fixed set of
// threads apart from the I/O threads, so a slow query never holds up TLS handshakes, reads or
// long-polls, with a bounded queue so overload is answered, not queued without end.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <stdexcept>

namespace apono::broker::api {

/// The work could not be taken on now (queue full, or waited past the bound): answer 503
/// with Retry-After.
class overloaded : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Runs blocking functions for coroutines. Thread-safe.
class work_pool {
 public:
  /// `threads` workers; at most `max_queued` functions waiting or running; a function that has
  /// not started within `max_wait` is dropped with `overloaded`.
  work_pool(std::size_t threads, std::size_t max_queued, std::chrono::milliseconds max_wait);
  /// Waits for work in progress.
  ~work_pool();
  work_pool(const work_pool&) = delete;
  work_pool& operator=(const work_pool&) = delete;

  /// Runs `fn` on a worker and resumes the caller on its own executor with the result, or with
  /// the exception `fn` threw; throws `overloaded` when it cannot be taken on.
  template <class T>
  boost::asio::awaitable<T> run(std::function<T()> fn) {
    if (queued_.fetch_add(1) >= max_queued_) {
      --queued_;
      throw overloaded("the broker is overloaded: too many requests in progress");
    }
    // A guard rather than try/catch around the co_await, and no temporaries in the co_await
    // expression but the awaitable: GCC 12 destroys some of those twice in coroutines.
    struct leave {
      std::atomic<std::size_t>& n;
      ~leave() { --n; }
    } guard{queued_};
    auto task = [this, enqueued = std::chrono::steady_clock::now(),
                 fn = std::move(fn)]() -> boost::asio::awaitable<T> {
      if (std::chrono::steady_clock::now() - enqueued > max_wait_)
        throw overloaded("the broker is overloaded: the request waited too long to start");
      co_return fn();
    };
    // No cancellation slot: a blocking fn cannot be interrupted, and co_spawn would forward the
    // caller's cancellation by a function dispatched to the pool that outlives the forwarding
    // state when the caller resumes first (Boost 1.81; ASan caught it at aponod's SIGTERM).
    auto op =
        boost::asio::co_spawn(pool_, std::move(task),
                              boost::asio::bind_cancellation_slot(boost::asio::cancellation_slot(),
                                                                  boost::asio::use_awaitable));
    co_return co_await std::move(op);
  }

  /// Functions waiting or running now.
  [[nodiscard]] std::size_t in_use() const { return queued_.load(); }

 private:
  boost::asio::thread_pool pool_;
  std::size_t max_queued_;
  std::chrono::milliseconds max_wait_;
  std::atomic<std::size_t> queued_{0};
};

}  // namespace apono::broker::api
