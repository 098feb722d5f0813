// The body every channel's notification is built from: `{"type", "timestamp", "version",
// "data"}` (Standard Webhooks' recommended shape), versioned so that receivers can tell a schema
// change; docs/notifications.md documents version 1. Built once, by the fan-out, from the audit
// event and the request it is about, and stored with the delivery, so every attempt sends the
// same bytes.
#pragma once

#include <string>
#include <string_view>

#include "broker/config.hpp"
#include "broker/store/store.hpp"
#include "common/model.hpp"
#include "common/time.hpp"

namespace apono::broker::notify {

/// The schema version of the body (its `version` field).
inline constexpr int payload_version = 1;

/// The body of event `type` that audit event `ev` became. `r` is the request `ev` is about (null
/// when none, or for `audit.*` events, which carry the audit row as GET /api/v1/audit shows it);
/// `cfg` names the approvers of a pending request.
[[nodiscard]] std::string build_payload(std::string_view type, const audit_event& ev,
                                        const common::access_request* r, const config& cfg);

/// The body of a `notification.test` sent to `endpoint` at the request of `by`.
[[nodiscard]] std::string test_payload(const audit_event& ev, const std::string& endpoint,
                                       const std::string& by);

/// The idempotency key of the delivery of event `type` from audit event `audit_id` to
/// `endpoint`: `msg_<audit id>_<8 hex digits>`, the same however often it is made or sent.
[[nodiscard]] std::string webhook_id(std::int64_t audit_id, std::string_view endpoint,
                                     std::string_view type);

/// A new pending delivery of `type` from `ev` to `endpoint` over `channel`, due at `now` and
/// dead after `max_age` of failures.
[[nodiscard]] delivery make_delivery(const std::string& endpoint, const std::string& channel,
                                     const audit_event& ev, std::string_view type,
                                     std::string payload, common::time_point now,
                                     std::chrono::milliseconds max_age);

}  // namespace apono::broker::notify
