// The event vocabulary: what each audit action becomes, and what a filter may name and selects.
#include "broker/notify/events.hpp"

#include <catch2/catch.hpp>

using namespace apono::broker;
using namespace apono::broker::notify;
using strings = std::vector<std::string>;

namespace {

audit_event ev(std::string action, std::string status = {}, std::string actor = "alice") {
  audit_event e;
  e.action = std::move(action);
  e.status = std::move(status);
  e.actor = std::move(actor);
  return e;
}

}  // namespace

TEST_CASE("a request's life maps onto the request events, each also an audit event") {
  CHECK(events_for(ev("request.created", "PENDING")) ==
        strings{"request.created", "request.pending_approval", "audit.request.created"});
  // An automatic flow approves as it creates.
  CHECK(events_for(ev("request.created", "GRANTING")) ==
        strings{"request.created", "request.approved", "audit.request.created"});
  CHECK(events_for(ev("request.approved", "GRANTING", "approver")) ==
        strings{"request.approved", "audit.request.approved"});
  CHECK(events_for(ev("request.rejected", "REJECTED", "approver")) ==
        strings{"request.rejected", "audit.request.rejected"});
  CHECK(events_for(ev("request.active", "ACTIVE", "system")) ==
        strings{"request.active", "audit.request.active"});
  // Ends are told when decided; the removal finishing is for the audit stream.
  CHECK(events_for(ev("request.expiring", "REVOKING", "system")) ==
        strings{"request.expired", "audit.request.expiring"});
  CHECK(events_for(ev("request.expired", "EXPIRED", "system")) == strings{"audit.request.expired"});
  CHECK(events_for(ev("request.revoked", "REVOKING", "admin")) ==
        strings{"request.revoked", "audit.request.revoked"});
  CHECK(events_for(ev("request.revoked", "REVOKED", "alice")) ==
        strings{"request.revoked", "audit.request.revoked"});
  CHECK(events_for(ev("request.revoked", "REVOKED", "system")) == strings{"audit.request.revoked"});
  CHECK(events_for(ev("request.grant_abandoned", "REVOKING", "system")) ==
        strings{"request.failed", "audit.request.grant_abandoned"});
  CHECK(events_for(ev("request.failed", "FAILED", "system")) == strings{"audit.request.failed"});
  CHECK(events_for(ev("request.pending_timeout", "FAILED", "system")) ==
        strings{"request.failed", "audit.request.pending_timeout"});
  // The notice timer's events: no status change, a request event and an audit event each.
  CHECK(events_for(ev("request.reminder", "", "system")) ==
        strings{"request.reminder", "audit.request.reminder"});
  CHECK(events_for(ev("request.expiring_soon", "", "system")) ==
        strings{"request.expiring_soon", "audit.request.expiring_soon"});
  CHECK(events_for(ev("unit.granted", "", "system")) == strings{"audit.unit.granted"});
  CHECK(events_for(ev("auth.login")) == strings{"audit.auth.login"});
}

TEST_CASE("filters name known events, prefixes of them, or everything") {
  for (const char* ok :
       {"*", "request.*", "audit.*", "audit.auth.*", "audit.request.*", "request.created",
        "request.expiring_soon", "notification.test", "notification.*", "audit.auth.login",
        "audit.notification.endpoint_disabled"})
    CHECK(is_event_pattern(ok));
  for (const char* bad : {"", ".*", "request", "request.", "request.aproved", "requests.*",
                          "audit.auth.log", "audit.nothing.*", "request.created.*", "**"})
    CHECK_FALSE(is_event_pattern(bad));
  const strings filter{"request.approved", "audit.auth.*"};
  CHECK(filter_selects(filter, "request.approved"));
  CHECK(filter_selects(filter, "audit.auth.login"));
  CHECK_FALSE(filter_selects(filter, "request.created"));
  CHECK_FALSE(filter_selects(filter, "audit.request.created"));
  CHECK(filter_selects({"*"}, "audit.unit.granted"));
  CHECK(filter_selects({"request.*"}, "request.failed"));
  CHECK(filter_selects({"request.*"}, "request.reminder"));
  CHECK(filter_selects({"request.*"}, "request.expiring_soon"));
  CHECK(filter_selects({"audit.request.*"}, "audit.request.reminder"));
  CHECK(is_event_pattern("request.reminder"));
  CHECK(is_event_pattern("audit.request.expiring_soon"));
  CHECK_FALSE(filter_selects({"request.*"}, "audit.request.created"));
}
