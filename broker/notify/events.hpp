// The notification event vocabulary, one for every channel (webhooks today; email, Teams and
// Slack later): what a change in the audit trail becomes, and which events an endpoint's filter
// selects. docs/notifications.md lists them with their payloads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "broker/store/store.hpp"

namespace apono::broker::notify {

/// The request events, in the order of a request's life. Each is sent when the request's
/// outcome is decided (a grant ending is `request.expired` as its removal at the target begins),
/// not when the cleanup finishes; the audit stream has both.
inline constexpr std::string_view request_events[] = {
    "request.created",           ///< a request was made (any flow)
    "request.pending_approval",  ///< it waits for an approver (manual flows); names the approvers
    "request.reminder",          ///< it still waits: the approvers are reminded (every interval)
    "request.approved",          ///< approved by an approver, or automatically by its flow
    "request.rejected",          ///< rejected, with the reason
    "request.active",            ///< access granted: until when, and the command to connect
    "request.expiring_soon",     ///< the grant ends soon: when, and how to ask again
    "request.expired",           ///< the grant reached its end
    "request.revoked",           ///< ended or withdrawn early, with who and why
    "request.failed",            ///< granting failed, or no approver decided in time
};

/// An admin's test of an endpoint (POST /api/v1/notifications/endpoints/{name}/test); sent to
/// that endpoint whatever its filter.
inline constexpr std::string_view test_event = "notification.test";

/// The audit actions the broker writes; `audit.<action>` is the event of each.
[[nodiscard]] const std::vector<std::string_view>& audit_actions();

/// The event types one audit event becomes, in the order they are sent: the request events it
/// stands for (none for most), then `audit.<action>`.
[[nodiscard]] std::vector<std::string> events_for(const audit_event& ev);

/// True when `pattern` may stand in an endpoint's filter: `*`, a known event type (a request
/// event, `notification.test`, `audit.<a known action>`), or a prefix of some such type followed
/// by `.*` (`request.*`, `audit.*`, `audit.auth.*`).
[[nodiscard]] bool is_event_pattern(std::string_view pattern);

/// True when some pattern of `filter` selects `type`.
[[nodiscard]] bool filter_selects(const std::vector<std::string>& filter, std::string_view type);

}  // namespace apono::broker::notify
