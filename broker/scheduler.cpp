// The scheduler. One planner thread asks the store what is due and queues unit work; workers
// do the slow target-side calls. A unit is never queued twice, so a grant and a revoke of the
// same unit never run at once (the revoke waits for the grant attempt to finish).
#include "broker/scheduler.hpp"

#include <spdlog/spdlog.h>

namespace apono::broker {

using namespace std::chrono_literals;

scheduler::scheduler(store& st, service& svc, const common::clock& clk, int workers)
    : store_(st), service_(svc), clock_(clk), worker_count_(workers < 1 ? 1 : workers) {}

scheduler::~scheduler() {
  stop();
}

void scheduler::start() {
  std::lock_guard lock(mutex_);
  if (running_) return;
  stopping_ = false;
  running_ = true;
  planner_ = std::thread([this] { plan_loop(); });
  for (int i = 0; i < worker_count_; ++i) workers_.emplace_back([this] { worker_loop(); });
}

void scheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    if (!running_) return;
    stopping_ = true;
  }
  plan_cv_.notify_all();
  work_cv_.notify_all();
  if (planner_.joinable()) planner_.join();
  for (auto& w : workers_) w.join();
  workers_.clear();
  std::lock_guard lock(mutex_);
  // Claimed but never started: let another replica (or the next start) have them now.
  for (const auto& item : queue_) {
    try {
      store_.release_unit(item.second);
    } catch (const std::exception& e) {
      spdlog::warn("scheduler: releasing unit {}: {}", item.second, e.what());
    }
  }
  queue_.clear();
  in_flight_.clear();
  running_ = false;
}

void scheduler::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  plan_cv_.notify_one();
}

std::size_t scheduler::plan(bool inline_units) {
  auto now = clock_.now();
  auto due = store_.find_due(now, now - service_.options().pending_ttl);
  // Request-level steps are single quick transactions; do them here, then the units they
  // put into REVOKING are found on the next pass (which follows at once).
  for (auto id : due.requests_to_expire) service_.expire_request(id);
  for (auto id : due.requests_stale) service_.fail_stale_request(id);
  std::size_t added = due.requests_to_expire.size() + due.requests_stale.size();
  if (inline_units) {
    auto run = [this](std::int64_t id, bool revoke) {
      try {
        revoke ? service_.revoke_unit(id) : service_.grant_unit(id);
      } catch (...) {
        store_.release_unit(id);
        throw;
      }
      store_.release_unit(id);
    };
    for (auto id : due.units_to_revoke) run(id, true);
    for (auto id : due.units_to_grant) run(id, false);
    return added + due.units_to_revoke.size() + due.units_to_grant.size();
  }
  std::lock_guard lock(mutex_);
  // The store claimed these for us and hands out no unit twice, so the in-flight set only
  // guards against a store that did.
  for (auto id : due.units_to_revoke)
    if (in_flight_.insert(id).second) queue_.emplace_front(kind::revoke_unit, id), ++added;
  for (auto id : due.units_to_grant)
    if (in_flight_.insert(id).second) queue_.emplace_back(kind::grant_unit, id), ++added;
  if (added) work_cv_.notify_all();
  return added;
}

void scheduler::run_once() {
  // Each pass can create work for the next (expire -> revoke); units whose retry is not yet
  // due are not returned by the store, so this ends. The bound only guards against a bug.
  for (int pass = 0; pass < 100; ++pass)
    if (plan(true) == 0) return;
}

void scheduler::plan_loop() {
  while (true) {
    std::size_t added = 0;
    try {
      added = plan(false);
    } catch (const std::exception& e) {
      spdlog::error("scheduler: {}", e.what());
    }
    auto wait = std::chrono::milliseconds{1000};
    try {
      if (auto next = store_.next_due(service_.options().pending_ttl)) {
        auto delta = *next - clock_.now();
        wait = std::clamp<std::chrono::milliseconds>(delta, 0ms, wait);
      }
    } catch (const std::exception& e) {
      spdlog::error("scheduler: {}", e.what());
    }
    // Something due is already in flight: poll gently instead of spinning until it finishes.
    if (wait == 0ms && added == 0) wait = 20ms;
    std::unique_lock lock(mutex_);
    if (wait > 0ms) plan_cv_.wait_for(lock, wait, [this] { return stopping_ || woken_; });
    woken_ = false;
    if (stopping_) return;
  }
}

void scheduler::worker_loop() {
  while (true) {
    std::pair<kind, std::int64_t> item;
    {
      std::unique_lock lock(mutex_);
      work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      item = queue_.front();
      queue_.pop_front();
    }
    try {
      if (item.first == kind::revoke_unit)
        service_.revoke_unit(item.second);
      else
        service_.grant_unit(item.second);
    } catch (const std::exception& e) {
      // A store failure: the unit stays due and is picked up again.
      spdlog::error("scheduler: unit {}: {}", item.second, e.what());
    }
    try {
      store_.release_unit(item.second);
    } catch (const std::exception& e) {
      spdlog::warn("scheduler: releasing unit {}: {}", item.second, e.what());
    }
    {
      std::lock_guard lock(mutex_);
      in_flight_.erase(item.second);
      woken_ = true;
    }
    plan_cv_.notify_one();
  }
}

}  // namespace apono::broker
