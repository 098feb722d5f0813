// Audit actions onto notification events. The mapping reads only the audit row (its action,
// status and actor), so the fan-out decides the same way however late it runs.
#include "broker/notify/events.hpp"

#include <algorithm>

namespace apono::broker::notify {

const std::vector<std::string_view>& audit_actions() {
  static const std::vector<std::string_view> actions = {
      "request.created",
      "request.approved",
      "request.rejected",
      "request.active",
      "request.expiring",
      "request.expired",
      "request.revoked",
      "request.failed",
      "request.grant_abandoned",
      "request.pending_timeout",
      "request.reminder",
      "request.expiring_soon",
      "unit.granted",
      "unit.grant_failed",
      "unit.revoked",
      "unit.revoke_failed",
      "credentials.reset",
      "access_details.fetched",
      "ssh_certificate.issued",
      "auth.login",
      "auth.login_failed",
      "auth.login_throttled",
      "auth.token_issued",
      "auth.token_revoked",
      "auth.logout",
      "notification.test",
      "notification.redelivered",
      "notification.endpoint_disabled",
      "notification.endpoint_enabled",
  };
  return actions;
}

std::vector<std::string> events_for(const audit_event& ev) {
  std::vector<std::string> out;
  const auto& a = ev.action;
  const auto& st = ev.status;
  if (a == "request.created") {
    out.emplace_back("request.created");
    // An automatic flow approves as it creates: GRANTING at once.
    if (st == "PENDING") out.emplace_back("request.pending_approval");
    if (st == "GRANTING") out.emplace_back("request.approved");
  } else if (a == "request.approved") {
    out.emplace_back("request.approved");
  } else if (a == "request.rejected") {
    out.emplace_back("request.rejected");
  } else if (a == "request.reminder") {
    out.emplace_back("request.reminder");
  } else if (a == "request.active") {
    out.emplace_back("request.active");
  } else if (a == "request.expiring_soon") {
    out.emplace_back("request.expiring_soon");
  } else if (a == "request.expiring") {
    out.emplace_back("request.expired");
  } else if (a == "request.revoked" && ev.actor != "system") {
    // The system's request.revoked is the removal finishing (REVOKED); the person's is the
    // decision (REVOKING, or REVOKED for a withdrawn PENDING request).
    out.emplace_back("request.revoked");
  } else if (a == "request.grant_abandoned" || a == "request.pending_timeout") {
    out.emplace_back("request.failed");
  }
  out.push_back("audit." + a);
  return out;
}

namespace {

// Every event type a filter can name exactly.
const std::vector<std::string>& known_types() {
  static const std::vector<std::string> types = [] {
    std::vector<std::string> t(std::begin(request_events), std::end(request_events));
    t.emplace_back(test_event);
    for (auto a : audit_actions()) t.push_back("audit." + std::string(a));
    return t;
  }();
  return types;
}

bool selects(std::string_view pattern, std::string_view type) {
  if (pattern == "*") return true;
  if (pattern.ends_with(".*")) return type.starts_with(pattern.substr(0, pattern.size() - 1));
  return pattern == type;
}

}  // namespace

bool is_event_pattern(std::string_view pattern) {
  if (pattern == "*") return true;
  if (pattern.ends_with(".*") && pattern.size() < 3) return false;
  const auto& types = known_types();
  return std::any_of(types.begin(), types.end(),
                     [&](const std::string& t) { return selects(pattern, t); });
}

bool filter_selects(const std::vector<std::string>& filter, std::string_view type) {
  return std::any_of(filter.begin(), filter.end(),
                     [&](const std::string& p) { return selects(p, type); });
}

}  // namespace apono::broker::notify
