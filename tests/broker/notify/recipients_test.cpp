// Who each event is mailed to: the requester for their request's changes, the approvers (never
// the requester) for a pending request and its reminders, nobody for their own action or for
// audit events; and the per-recipient endpoint names.
#include "broker/notify/recipients.hpp"

#include <catch2/catch.hpp>

#include "broker/config.hpp"

using namespace apono::broker;
using namespace apono::broker::notify;
using strings = std::vector<std::string>;

namespace {

std::shared_ptr<const config> cfg() {
  return parse_config(R"(users:
  - name: alice
  - name: bob
  - name: carol
groups:
  - name: leads
    members: [bob, alice, carol]
integrations:
  - id: pg
    type: postgresql
    admin_url: postgresql://postgres:secret@127.0.0.1:5432/postgres
    resources: [appdb]
access_flows:
  - name: manual
    requestors: {users: [alice]}
    targets:
      - integration: pg
        resources: ["*"]
        permissions: ["*"]
    approval: manual
    approvers: {users: [carol], groups: [leads]}
)",
                      "test.yaml");
}

}  // namespace

TEST_CASE("each event's audience, from one table") {
  CHECK(audience_of("request.pending_approval") == audience::approvers);
  CHECK(audience_of("request.reminder") == audience::approvers);
  CHECK(audience_of("request.expiring_soon") == audience::requester);
  CHECK(audience_of("request.active") == audience::requester);
  CHECK(audience_of("request.created") == audience::nobody);
  CHECK(audience_of("audit.request.created") == audience::nobody);
  CHECK(audience_of("notification.test") == audience::asker);
}

TEST_CASE("recipients: approvers but the requester, the requester but not for their own act") {
  auto c = cfg();
  apono::common::access_request r;
  r.requester = "alice";
  r.flow = "manual";
  audit_event ev;
  ev.actor = "alice";
  CHECK(approvers_of(r, *c) == strings{"carol", "bob"});
  CHECK(recipients_of("request.pending_approval", ev, &r, *c) == strings{"carol", "bob"});
  CHECK(recipients_of("request.reminder", ev, &r, *c) == strings{"carol", "bob"});
  ev.actor = "carol";
  CHECK(recipients_of("request.approved", ev, &r, *c) == strings{"alice"});
  ev.actor = "alice";  // an automatic flow approved it as she made it
  ev.action = "request.created";
  CHECK(recipients_of("request.approved", ev, &r, *c) == strings{"alice"});
  ev.action = "request.revoked";  // she withdrew it herself
  CHECK(recipients_of("request.revoked", ev, &r, *c).empty());
  ev.actor = "system";
  CHECK(recipients_of("request.expired", ev, &r, *c) == strings{"alice"});
  CHECK(recipients_of("request.created", ev, &r, *c).empty());
  CHECK(recipients_of("request.active", ev, nullptr, *c).empty());
}

TEST_CASE("per-recipient endpoint names split back") {
  CHECK(recipient_endpoint("email", "alice") == "email:alice");
  CHECK(split_endpoint("email:alice").endpoint == "email");
  CHECK(split_endpoint("email:alice").recipient == "alice");
  CHECK(split_endpoint("siem").endpoint == "siem");
  CHECK(split_endpoint("siem").recipient.empty());
}
