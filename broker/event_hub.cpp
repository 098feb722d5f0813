// event_hub: timers that notify() cancels early.
#include "broker/event_hub.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace apono::broker {

namespace net = boost::asio;

std::uint64_t event_hub::sequence() const {
  std::lock_guard lock(mutex_);
  return seq_;
}

void event_hub::notify() {
  std::lock_guard lock(mutex_);
  ++seq_;
  // Timers belong to connection strands; cancel them there, not from this thread.
  for (const auto& t : waiters_) net::post(t->get_executor(), [t] { t->cancel(); });
}

void event_hub::stop() {
  std::lock_guard lock(mutex_);
  stopped_ = true;
  for (const auto& t : waiters_) net::post(t->get_executor(), [t] { t->cancel(); });
}

bool event_hub::stopped() const {
  std::lock_guard lock(mutex_);
  return stopped_;
}

std::size_t event_hub::waiting() const {
  std::lock_guard lock(mutex_);
  return waiters_.size();
}

net::awaitable<void> event_hub::wait(std::uint64_t seen, std::chrono::milliseconds timeout) {
  auto timer = std::make_shared<net::steady_timer>(co_await net::this_coro::executor, timeout);
  {
    std::lock_guard lock(mutex_);
    if (seq_ != seen || stopped_) co_return;
    waiters_.insert(timer);
  }
  co_await timer->async_wait(net::as_tuple(net::use_awaitable));
  std::lock_guard lock(mutex_);
  waiters_.erase(timer);
}

}  // namespace apono::broker
