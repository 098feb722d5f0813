// The notice timer. A reminder is due `interval` after the request was made or last reminded
// its approvers, so a broker that was down sends one reminder when it is back, not the ones it
// missed. An expiring-soon notice is due `before` the grant's end, once per end time, and only
// for a grant that was longer than that (a shorter one was told its end when it began) and has
// not ended yet.
#include "broker/notify/notices.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include <algorithm>

namespace apono::broker::notify {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// How far ahead a run looks for the next notice: the dispatcher's longest wait.
constexpr auto lookahead = 1s;

json::object detail_of(const audit_event& ev) {
  boost::system::error_code ec;
  auto v = json::parse(ev.detail, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.get_object());
}

// True when `last` (an expiring-soon event) was about the end `ends_at`.
bool warned_for(const std::optional<audit_event>& last, common::time_point ends_at) {
  if (!last) return false;
  const auto d = detail_of(*last);
  const auto* v = d.if_contains("ends_at");
  return v && v->is_string() && v->get_string() == common::format_rfc3339(ends_at);
}

common::time_point reminder_due(common::time_point created_at,
                                const std::optional<audit_event>& last,
                                std::chrono::milliseconds interval) {
  return (last ? last->at : created_at) + interval;
}

// The grant's end if it may get an expiring-soon notice at all: Active, longer than `before`,
// not yet told about this end.
std::optional<common::time_point> warnable_end(const std::optional<common::time_point>& from,
                                               const std::optional<common::time_point>& ends,
                                               const std::optional<audit_event>& last,
                                               std::chrono::milliseconds before) {
  if (!from || !ends || *ends - *from <= before || warned_for(last, *ends)) return std::nullopt;
  return ends;
}

}  // namespace

std::int64_t reminder_number(const audit_event& ev) {
  const auto d = detail_of(ev);
  const auto* v = d.if_contains("reminder");
  return v && v->is_int64() ? v->get_int64() : 0;
}

notices::notices(store& st, config_holder& cfg, const common::clock& clk)
    : store_(st), config_(cfg), clock_(clk) {}

std::size_t notices::run() {
  next_.reset();
  const auto cfg = config_.get();
  const auto interval = cfg->notifications.reminder_interval;
  const auto before = cfg->notifications.expiring_soon_before;
  if (interval <= 0ms && before <= 0ms) return 0;
  const auto now = clock_.now();
  const auto horizon = now + lookahead;
  // The epoch selects nothing: every request was made, and ends, after it.
  const auto made_before = interval > 0ms ? horizon - interval : common::time_point{};
  const auto ending_before = before > 0ms ? horizon + before : common::time_point{};
  std::size_t written = 0;
  auto later = [&](common::time_point due) {
    if (!next_ || due < *next_) next_ = due;
  };
  for (const auto& c : store_.notice_candidates(made_before, ending_before)) {
    if (c.state == common::status::pending && interval > 0ms) {
      const auto due = reminder_due(c.created_at, c.last, interval);
      if (due > now)
        later(due);
      else if (remind(c.request_id, interval))
        ++written;
    } else if (c.state == common::status::active && before > 0ms) {
      const auto end = warnable_end(c.active_from, c.ends_at, c.last, before);
      if (!end || now >= *end) continue;  // the expiry takes it from here
      if (*end - before > now)
        later(*end - before);
      else if (warn(c.request_id, before))
        ++written;
    }
  }
  return written;
}

bool notices::remind(std::int64_t request_id, std::chrono::milliseconds interval) {
  bool wrote = false;
  std::int64_t number = 0;
  store_.transact([&](store_tx& tx) {
    wrote = false;
    // Held elsewhere: a decision (or another replica's reminder) is under way; the next run
    // sees what it did.
    auto r = tx.try_lock_request(request_id);
    if (!r || r->state != common::status::pending) return;
    auto last = tx.last_request_audit(request_id, "request.reminder");
    const auto now = clock_.now();
    if (now < reminder_due(r->created_at, last, interval)) return;
    number = last ? reminder_number(*last) + 1 : 1;
    audit_event ev;
    ev.at = now;
    ev.actor = "system";
    ev.action = "request.reminder";
    ev.request_id = request_id;
    ev.detail = json::serialize(json::object{
        {"reminder", number}, {"pending_since", common::format_rfc3339(r->created_at)}});
    tx.append_audit(ev);
    wrote = true;
  });
  if (wrote)
    spdlog::info("notify: {} still pending: approvers reminded (reminder {})",
                 common::format_request_id(request_id), number);
  return wrote;
}

bool notices::warn(std::int64_t request_id, std::chrono::milliseconds before) {
  bool wrote = false;
  std::int64_t minutes = 0;
  store_.transact([&](store_tx& tx) {
    wrote = false;
    auto r = tx.try_lock_request(request_id);
    if (!r || r->state != common::status::active) return;
    auto last = tx.last_request_audit(request_id, "request.expiring_soon");
    const auto end = warnable_end(r->active_from, r->ends_at, last, before);
    const auto now = clock_.now();
    if (!end || now >= *end || now < *end - before) return;
    // Rounded up: a grant with 30 s left has "1 minute" left, not 0.
    minutes = (std::chrono::duration_cast<std::chrono::milliseconds>(*end - now).count() + 59'999) /
              60'000;
    audit_event ev;
    ev.at = now;
    ev.actor = "system";
    ev.action = "request.expiring_soon";
    ev.request_id = request_id;
    ev.detail = json::serialize(
        json::object{{"ends_at", common::format_rfc3339(*end)}, {"minutes_left", minutes}});
    tx.append_audit(ev);
    wrote = true;
  });
  if (wrote)
    spdlog::info("notify: {} ends in {} minute(s): expiring-soon notice written",
                 common::format_request_id(request_id), minutes);
  return wrote;
}

}  // namespace apono::broker::notify
