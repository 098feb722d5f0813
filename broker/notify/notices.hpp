// Reminders and expiring-soon notices: a timer, beside the dispatcher's fan-out, that writes
// the audit events `request.reminder` (a PENDING request reminds its approvers every interval
// until it is decided) and `request.expiring_soon` (an Active grant, a set time before its
// end). They flow to the endpoints as every audit event does.
//
// Neither is a status change, so their audit rows carry no status: the event feed and the
// status history stay what they are, the lifecycle's transitions.
//
// Each is written in one transaction that locks the request and checks again that it is still
// due (the request still PENDING or Active, no such notice since), so with several replicas on
// one PostgreSQL store each notice is written once, and none after the request left the status
// it is about. Like the scheduler it keeps no state: what is due is read from the store.
#pragma once

#include <cstdint>
#include <optional>

#include "broker/config_holder.hpp"
#include "broker/store/store.hpp"
#include "common/time.hpp"

namespace apono::broker::notify {

/// Writes the reminders and expiring-soon notices that are due. Thread-compatible: one caller
/// (the dispatcher's planner) at a time.
class notices {
 public:
  /// Reads `notifications.reminders` and `notifications.expiring_soon` from `cfg` at each run.
  notices(store& st, config_holder& cfg, const common::clock& clk);

  /// Writes every notice due now; returns how many were written.
  std::size_t run();
  /// When the next notice found by the last run is due, if one is due within a second of it
  /// (the dispatcher looks again every second anyway).
  [[nodiscard]] std::optional<common::time_point> next_due() const { return next_; }

 private:
  bool remind(std::int64_t request_id, std::chrono::milliseconds interval);
  bool warn(std::int64_t request_id, std::chrono::milliseconds before);

  store& store_;
  config_holder& config_;
  const common::clock& clock_;
  std::optional<common::time_point> next_;
};

/// The reminder number an audit event `request.reminder` names (its detail's `reminder`); 0
/// when it names none.
[[nodiscard]] std::int64_t reminder_number(const audit_event& ev);

}  // namespace apono::broker::notify
