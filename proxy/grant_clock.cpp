// The grant clock's thread.
#include "proxy/grant_clock.hpp"

#include <algorithm>

namespace apono::proxy {

using namespace std::chrono_literals;

namespace {
// The watch's clock is wall time, which can jump (suspend, NTP); waking at least this often
// keeps the end on time whatever the steady clock the wait uses did meanwhile.
constexpr auto max_wait = 10s;
}  // namespace

grant_clock::grant_clock(grant_watch& watch, std::vector<std::chrono::milliseconds> warnings,
                         warning_handler on_warning)
    : watch_(watch), warnings_(std::move(warnings)), on_warning_(std::move(on_warning)) {
  std::sort(warnings_.rbegin(), warnings_.rend());
  // A grant already over is over before anyone can start a session on it.
  if (watch_.time_left() <= 0ms) watch_.end(end_cause::expired);
  thread_ = std::thread([this] { run(); });
}

grant_clock::~grant_clock() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void grant_clock::run() {
  // Warnings already behind us at the start are not news.
  auto left = watch_.time_left();
  std::erase_if(warnings_, [&](auto w) { return w >= left; });
  std::unique_lock lock(mutex_);
  while (!stopped_ && !watch_.ended()) {
    left = watch_.time_left();
    if (left <= 0ms) {
      lock.unlock();
      watch_.end(end_cause::expired);
      return;
    }
    std::chrono::milliseconds due{-1};
    while (!warnings_.empty() && left <= warnings_.front()) {
      due = warnings_.front();
      warnings_.erase(warnings_.begin());
    }
    if (due >= 0ms && on_warning_) {
      lock.unlock();
      on_warning_(due);
      lock.lock();
      continue;
    }
    auto next = warnings_.empty() ? left : left - warnings_.front();
    wake_.wait_for(lock, std::min<std::chrono::milliseconds>(next, max_wait));
  }
}

}  // namespace apono::proxy
