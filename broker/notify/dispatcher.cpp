// The dispatcher: one planner thread fans out and claims due deliveries, workers make the
// attempts (each up to the configured timeout) and record what came of them.
#include "broker/notify/dispatcher.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include <algorithm>

#include "broker/notify/events.hpp"
#include "broker/notify/payload.hpp"
#include "broker/notify/recipients.hpp"

namespace apono::broker::notify {

using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

// Audit events one fan-out transaction reads at most, and deliveries one pass claims.
constexpr std::size_t fan_out_batch = 200;
constexpr std::size_t claim_batch = 100;
// How often the planner looks for finished deliveries past the retention.
constexpr auto prune_every = std::chrono::minutes{10};

// An endpoint of any channel, as the fan-out sees it.
struct endpoint_ref {
  std::string name;
  std::string channel;
  const std::vector<std::string>* events;
  bool per_recipient;  // one delivery per person the event addresses (email, Slack)
};

std::vector<endpoint_ref> endpoints_of(const config& cfg) {
  const auto& n = cfg.notifications;
  std::vector<endpoint_ref> out;
  for (const auto& w : n.webhooks) out.push_back({w.name, "webhook", &w.events, false});
  for (const auto& t : n.teams) out.push_back({t.name, "teams", &t.events, false});
  if (n.email) out.push_back({n.email->name, "email", &n.email->events, true});
  if (n.slack) out.push_back({n.slack->name, "slack", &n.slack->events, true});
  return out;
}

}  // namespace

dispatcher::dispatcher(store& st, config_holder& cfg, const common::clock& clk, metrics& m,
                       std::map<std::string, channel*> channels)
    : store_(st),
      config_(cfg),
      clock_(clk),
      metrics_(m),
      channels_(std::move(channels)),
      notices_(st, cfg, clk) {
  random_ = [engine = std::make_shared<std::mt19937_64>(std::random_device{}())]() {
    return std::uniform_real_distribution<double>(0.0, 1.0)(*engine);
  };
}

dispatcher::~dispatcher() {
  stop();
}

void dispatcher::start() {
  std::lock_guard lock(mutex_);
  if (running_) return;
  stopping_ = false;
  running_ = true;
  planner_ = std::thread([this] { plan_loop(); });
  const int workers = config_.get()->notifications.workers;
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

void dispatcher::stop() {
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
  // Claimed but never attempted: another replica (or the next start) may have them now.
  for (const auto& d : queue_) {
    try {
      store_.release_delivery(d.id);
    } catch (const std::exception& e) {
      spdlog::warn("notify: releasing delivery {}: {}", d.id, e.what());
    }
  }
  queue_.clear();
  in_flight_.clear();
  running_ = false;
}

void dispatcher::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  plan_cv_.notify_one();
}

std::chrono::milliseconds dispatcher::backoff(int attempts, const notifications_config& cfg) {
  auto delay = cfg.initial_backoff;
  for (int i = 1; i < attempts && delay < cfg.max_backoff; ++i) delay *= 2;
  delay = std::min(delay, cfg.max_backoff);
  if (!cfg.jitter) return delay;
  // Full jitter: replicas and endpoints failing together do not retry in step.
  return std::chrono::milliseconds{
      static_cast<std::int64_t>(random_() * static_cast<double>(delay.count()))};
}

std::size_t dispatcher::fan_out() {
  // Cheap when nothing is new, which is most wake-ups: one read, no write transaction.
  const auto last = store_.last_audit_id();
  if (last <= known_cursor_.load()) return 0;
  auto cfg = config_.get();
  const auto endpoints = endpoints_of(*cfg);
  std::size_t made = 0;
  std::int64_t cursor = 0;
  bool full = false;
  store_.transact([&](store_tx& tx) {
    made = 0;
    full = false;
    cursor = tx.notify_cursor();  // locked until commit: one replica fans out at a time
    auto events = tx.read_audit(cursor, fan_out_batch);
    if (events.empty()) return;
    std::set<std::string> disabled;
    for (const auto& e : tx.endpoint_states())
      if (e.disabled_at) disabled.insert(e.name);
    const auto now = clock_.now();
    std::map<std::int64_t, std::optional<common::access_request>> requests;
    for (const auto& ev : events) {
      const auto types = events_for(ev);
      for (const auto& e : endpoints) {
        // A disabled endpoint gets nothing until an admin enables it again, from then on.
        if (disabled.contains(e.name)) continue;
        for (const auto& type : types) {
          if (!filter_selects(*e.events, type)) continue;
          const common::access_request* r = nullptr;
          if (ev.request_id && !type.starts_with("audit.")) {
            auto& cached = requests[ev.request_id];
            if (!cached) cached = tx.read_request(ev.request_id);
            r = cached ? &*cached : nullptr;
          }
          std::vector<std::string> to{e.name};
          if (e.per_recipient) {
            to.clear();
            for (const auto& user : e.channel == "slack" ? chat_recipients_of(type, ev, r, *cfg)
                                                         : recipients_of(type, ev, r, *cfg))
              to.push_back(recipient_endpoint(e.name, user));
          }
          if (to.empty()) continue;
          const auto payload = build_payload(type, ev, r, *cfg);
          for (const auto& endpoint : to) {
            auto d = make_delivery(endpoint, e.channel, ev, type, payload, now,
                                   cfg->notifications.max_age);
            if (tx.insert_delivery(d)) ++made;
          }
        }
      }
    }
    cursor = events.back().id;
    full = events.size() == fan_out_batch;
    tx.set_notify_cursor(cursor);
  });
  known_cursor_ = cursor;
  if (made) spdlog::debug("notify: {} deliveries made, cursor at audit event {}", made, cursor);
  // A full batch may have more behind it: the next transaction takes it (each stays short).
  if (full) made += fan_out();
  return made;
}

void dispatcher::attempt(const delivery& claimed) {
  using outcome = attempt_result::outcome;
  auto cfg = config_.get();
  // Claimed from a snapshot: another replica may have attempted it since. Only the state it was
  // claimed in is attempted.
  std::optional<delivery> cur;
  store_.read([&](store_tx& tx) { cur = tx.get_delivery(claimed.id); });
  if (!cur || cur->status != "pending" || cur->attempts != claimed.attempts) return;
  auto it = channels_.find(cur->channel);
  attempt_result res;
  if (it == channels_.end() || !it->second)
    res = {outcome::dropped, 0, "this aponod has no channel '" + cur->channel + "'", {}};
  else
    res = it->second->attempt(*cur, cfg->notifications);

  delivery_outcome counted = delivery_outcome::retried;
  bool record = false;
  store_.transact([&](store_tx& tx) {
    record = false;
    auto d = tx.get_delivery(claimed.id);
    if (!d || d->status != "pending" || d->attempts != claimed.attempts) return;
    record = true;
    const auto now = clock_.now();
    d->attempts += 1;
    d->last_http_status = res.http_status;
    switch (res.result) {
      case outcome::delivered:
        d->status = "delivered";
        d->delivered_at = now;
        d->last_error.clear();
        counted = delivery_outcome::delivered;
        break;
      case outcome::dropped:
        d->status = "dead";
        d->last_error = res.error;
        counted = delivery_outcome::dead;
        break;
      case outcome::gone: {
        d->status = "dead";
        d->last_error = res.error + ": endpoint disabled";
        d->next_attempt_at = now;
        counted = delivery_outcome::dead;
        tx.update_delivery(*d);
        const auto reason = "the receiver answered 410 Gone to " + d->webhook_id;
        tx.set_endpoint_state(d->endpoint, now, reason);
        auto ended = tx.end_pending_deliveries(d->endpoint, "endpoint disabled: " + reason);
        audit_event ev;
        ev.at = now;
        ev.actor = "system";
        ev.action = "notification.endpoint_disabled";
        ev.detail = json::serialize(json::object{{"endpoint", d->endpoint},
                                                 {"delivery", d->id},
                                                 {"webhook_id", d->webhook_id},
                                                 {"reason", reason},
                                                 {"pending_ended", ended}});
        tx.append_audit(ev);
        return;
      }
      case outcome::failed: {
        d->last_error = res.error;
        if (now >= d->give_up_at) {
          d->status = "dead";
          d->last_error += " (gave up: no success within the maximum age)";
          counted = delivery_outcome::dead;
          break;
        }
        auto delay = backoff(d->attempts, cfg->notifications);
        if (res.retry_after) delay = std::max(delay, *res.retry_after);
        // The last try is at the maximum age, however long the backoff or Retry-After.
        d->next_attempt_at = std::min(now + delay, d->give_up_at);
        counted = delivery_outcome::retried;
        break;
      }
    }
    // A finished delivery keeps when its last attempt was made: the retention counts from it.
    if (d->status != "pending") d->next_attempt_at = now;
    tx.update_delivery(*d);
  });
  if (!record) return;
  metrics_.count_delivery(cur->channel, counted);
  switch (res.result) {
    case outcome::delivered:
      spdlog::debug("notify: {} {} {} delivered (attempt {}, HTTP {})", cur->endpoint,
                    cur->event_type, cur->webhook_id, cur->attempts + 1, res.http_status);
      break;
    case outcome::gone:
      spdlog::warn(
          "notify: endpoint {} answered 410 Gone to {}: disabled until an admin enables it",
          cur->endpoint, cur->webhook_id);
      break;
    default:
      spdlog::warn("notify: {} {} {} attempt {} failed{}: {}", cur->endpoint, cur->event_type,
                   cur->webhook_id, cur->attempts + 1,
                   counted == delivery_outcome::dead ? " for good" : ", will retry", res.error);
  }
}

void dispatcher::write_notices() {
  // A failure here must not hold up deliveries; the next pass tries again.
  try {
    notices_.run();
  } catch (const std::exception& e) {
    spdlog::error("notify: reminders and expiring-soon notices: {}", e.what());
  }
}

std::int64_t dispatcher::prune(std::size_t batch, std::size_t max_batches) {
  const auto before = clock_.now() - config_.get()->notifications.retention;
  std::int64_t total = 0;
  // One short transaction per batch: never a long lock on the deliveries.
  for (auto prune_table : {&store_tx::prune_deliveries, &store_tx::prune_slack_messages}) {
    for (std::size_t i = 0; i < max_batches; ++i) {
      std::int64_t n = 0;
      store_.transact([&](store_tx& tx) { n = (tx.*prune_table)(before, batch); });
      total += n;
      if (n < static_cast<std::int64_t>(batch)) break;
    }
  }
  return total;
}

void dispatcher::prune_now_and_then() {
  const auto now = clock_.now();
  if (pruned_at_ && now - *pruned_at_ < prune_every) return;
  try {
    constexpr std::size_t batch = 500, batches = 20;
    const auto n = prune(batch, batches);
    if (n)
      spdlog::info(
          "notify: deleted {} finished deliveries and ended requests' Slack message records past "
          "the retention",
          n);
    // A full run may have left more: the next pass goes on with them.
    if (n < static_cast<std::int64_t>(batch * batches)) pruned_at_ = now;
  } catch (const std::exception& e) {
    spdlog::error("notify: deleting old deliveries: {}", e.what());
    pruned_at_ = now;
  }
}

std::size_t dispatcher::plan(bool inline_attempts) {
  std::size_t made = 0;
  // Notices first: their audit events are fanned out in the same pass.
  write_notices();
  if (!inline_attempts) prune_now_and_then();
  // A burst of changes can take several batches; each pass takes one.
  made = fan_out();
  auto due = store_.find_due_deliveries(clock_.now(), claim_batch);
  if (inline_attempts) {
    for (const auto& d : due) {
      try {
        attempt(d);
      } catch (...) {
        store_.release_delivery(d.id);
        throw;
      }
      store_.release_delivery(d.id);
    }
    return made + due.size();
  }
  std::lock_guard lock(mutex_);
  std::size_t added = 0;
  for (auto& d : due) {
    if (in_flight_.insert(d.id).second) {
      queue_.push_back(std::move(d));
      ++added;
    } else {
      store_.release_delivery(d.id);  // only a store that claimed it twice gets here
    }
  }
  if (added) work_cv_.notify_all();
  return made + added;
}

void dispatcher::run_once() {
  // Each pass can make work for the next (a delivery waiting for an earlier one); what is not
  // yet due is not returned, so this ends. The bound only guards against a bug.
  for (int pass = 0; pass < 100; ++pass)
    if (plan(true) == 0) return;
}

void dispatcher::plan_loop() {
  while (true) {
    std::size_t added = 0;
    try {
      added = plan(false);
    } catch (const std::exception& e) {
      spdlog::error("notify: {}", e.what());
    }
    // New audit events of other replicas, and auth events, which wake nobody, are found by
    // this poll; transitions on this replica wake it at once.
    auto wait = std::chrono::milliseconds{1000};
    try {
      auto next = store_.next_delivery_due();
      if (auto notice = notices_.next_due(); notice && (!next || *notice < *next)) next = notice;
      if (next) {
        auto delta = std::chrono::duration_cast<std::chrono::milliseconds>(*next - clock_.now());
        wait = std::clamp<std::chrono::milliseconds>(delta, 0ms, wait);
      }
    } catch (const std::exception& e) {
      spdlog::error("notify: {}", e.what());
    }
    // Something due is being attempted (here or on another replica): poll gently. A worker that
    // finishes wakes this loop at once, for the next delivery about the same request.
    if (wait == 0ms && added == 0) wait = 250ms;
    std::unique_lock lock(mutex_);
    if (wait > 0ms) plan_cv_.wait_for(lock, wait, [this] { return stopping_ || woken_; });
    woken_ = false;
    if (stopping_) return;
  }
}

void dispatcher::worker_loop() {
  while (true) {
    delivery d;
    {
      std::unique_lock lock(mutex_);
      work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      d = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      attempt(d);
    } catch (const std::exception& e) {
      // A store failure: the delivery stays pending and is claimed again.
      spdlog::error("notify: delivery {}: {}", d.id, e.what());
    }
    // Out of the in-flight set before the claim ends: a planner that claims it again after
    // (a redelivery) must be able to queue it, or its claim would never end.
    {
      std::lock_guard lock(mutex_);
      in_flight_.erase(d.id);
      woken_ = true;  // the next delivery about the same request may be due now
    }
    try {
      store_.release_delivery(d.id);
    } catch (const std::exception& e) {
      spdlog::warn("notify: releasing delivery {}: {}", d.id, e.what());
    }
    plan_cv_.notify_one();
  }
}

}  // namespace apono::broker::notify
