// Drives the lifecycle in time: grants approved units, expires grants at their end, revokes,
// retries with backoff and fails requests pending too long. It keeps no state of its own
// beyond what is in flight, so a restart simply finds the same due work in the store: that
// is the whole of crash recovery.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "broker/service.hpp"
#include "broker/store/store.hpp"
#include "common/time.hpp"

namespace apono::broker {

/// Runs due work on a pool of worker threads; revocations go ahead of grants.
class scheduler {
 public:
  /// Does not start threads; call start().
  scheduler(store& st, service& svc, const common::clock& clk, int workers);
  ~scheduler();
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  /// Starts the planning thread and the workers.
  void start();
  /// Stops and joins all threads; work in progress finishes first.
  void stop();
  /// Asks the planner to look for due work now (after a status change).
  void wake();
  /// Does everything due now on the calling thread, repeating until nothing is left (tests
  /// with a manual clock use this instead of start()).
  void run_once();
  /// True while the threads run.
  [[nodiscard]] bool running() const { return running_; }

 private:
  enum class kind { revoke_unit, grant_unit };
  void plan_loop();
  void worker_loop();
  std::size_t plan(bool inline_units);

  store& store_;
  service& service_;
  const common::clock& clock_;
  int worker_count_;
  std::mutex mutex_;
  std::condition_variable plan_cv_;
  std::condition_variable work_cv_;
  std::deque<std::pair<kind, std::int64_t>> queue_;
  std::set<std::int64_t> in_flight_;  // unit ids queued or running
  bool woken_ = false;
  bool stopping_ = false;
  bool running_ = false;
  std::thread planner_;
  std::vector<std::thread> workers_;
};

}  // namespace apono::broker
