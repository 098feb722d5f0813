// The notification dispatcher: relays the audit trail, which every transition writes in its own
// transaction (the outbox), to the configured endpoints.
//
// - Fan-out, in one write transaction: read the audit events after the stored cursor, make one
//   delivery per (endpoint, event type) its filter selects, with the body built then, and move
//   the cursor. Deliveries are unique per (endpoint, audit event, type), so a fan-out repeated
//   after a crash changes nothing; the cursor's row lock lets one replica fan out at a time.
// - Delivery: due deliveries are claimed from the store (one replica works each), attempted on a
//   pool of workers through their channel, and the outcome recorded: delivered, retried with
//   exponential backoff and full jitter (Retry-After honoured), dead after the maximum age, or
//   the endpoint disabled on 410 Gone. A delivery waits while an earlier one to the same endpoint
//   about the same request is pending, so each endpoint sees a request's events in order.
//
// - Beside them: the notice timer (notices.hpp) writes the reminders and expiring-soon events
//   that are due, just before a fan-out, and finished deliveries past the retention are deleted
//   in short batches now and then.
//
// Like the scheduler, it keeps nothing but what is in flight: after a crash the cursor and the
// pending deliveries are where the last commit left them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker/config_holder.hpp"
#include "broker/metrics.hpp"
#include "broker/notify/channel.hpp"
#include "broker/notify/notices.hpp"
#include "broker/store/store.hpp"
#include "common/time.hpp"

namespace apono::broker::notify {

/// Relays the audit trail to the notification endpoints. Thread-safe.
class dispatcher {
 public:
  /// `channels` by name (`webhook`); they must outlive the dispatcher. Does not start threads.
  dispatcher(store& st, config_holder& cfg, const common::clock& clk, metrics& m,
             std::map<std::string, channel*> channels);
  ~dispatcher();
  dispatcher(const dispatcher&) = delete;
  dispatcher& operator=(const dispatcher&) = delete;

  /// Starts the planning thread and `notifications.workers` workers.
  void start();
  /// Stops and joins; attempts in progress finish first, queued ones are released.
  void stop();
  /// Asks for a fan-out and a look for due deliveries now (after a change was committed).
  void wake();
  /// Fans out and makes every attempt due now on the calling thread, repeating until nothing
  /// is left (tests with a manual clock use this instead of start()).
  void run_once();
  /// Fans out every audit event after the cursor, a batch per transaction; returns the
  /// deliveries made.
  std::size_t fan_out();
  /// The delay before attempt `attempts + 1` after `attempts` failures: the initial backoff
  /// doubled per failure up to the maximum; with jitter, uniform in [0, that].
  [[nodiscard]] std::chrono::milliseconds backoff(int attempts, const notifications_config& cfg);
  /// Replaces the random source of the jitter (tests): returns a value in [0, 1).
  void set_random(std::function<double()> random) { random_ = std::move(random); }
  /// Deletes the delivered and dead deliveries past `notifications.retention` and the Slack
  /// message records of requests that ended before it, a short transaction per batch of
  /// `batch`, at most `max_batches` of each; returns how many rows.
  std::int64_t prune(std::size_t batch = 500, std::size_t max_batches = 20);

 private:
  void plan_loop();
  void worker_loop();
  std::size_t plan(bool inline_attempts);
  void attempt(const delivery& claimed);
  void write_notices();
  void prune_now_and_then();

  store& store_;
  config_holder& config_;
  const common::clock& clock_;
  metrics& metrics_;
  std::map<std::string, channel*> channels_;
  std::function<double()> random_;
  std::atomic<std::int64_t> known_cursor_{-1};   // the cursor after our last fan-out
  notices notices_;                              // used by the planner only
  std::optional<common::time_point> pruned_at_;  // the planner's last prune that finished

  std::mutex mutex_;
  std::condition_variable plan_cv_;
  std::condition_variable work_cv_;
  std::deque<delivery> queue_;
  std::set<std::int64_t> in_flight_;  // delivery ids queued or being attempted
  bool woken_ = false;
  bool stopping_ = false;
  bool running_ = false;
  std::thread planner_;
  std::vector<std::thread> workers_;
};

}  // namespace apono::broker::notify
