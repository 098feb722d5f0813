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

TEST_CASE("Slack: the requester's thread follows every change, the approvers the decision") {
  auto c = cfg();
  apono::common::access_request r;
  r.requester = "alice";
  r.flow = "manual";
  audit_event ev;
  ev.actor = "alice";
  ev.action = "request.created";
  ev.status = "PENDING";
  CHECK(chat_recipients_of("request.created", ev, &r, *c) == strings{"alice"});
  CHECK(chat_recipients_of("request.pending_approval", ev, &r, *c) == strings{"carol", "bob"});
  // The decider's own copy is updated too.
  ev.actor = "carol";
  ev.action = "request.approved";
  ev.status = "GRANTING";
  CHECK(chat_recipients_of("request.approved", ev, &r, *c) == strings{"alice", "carol", "bob"});
  ev.action = "request.rejected";
  ev.status = "REJECTED";
  CHECK(chat_recipients_of("request.rejected", ev, &r, *c) == strings{"alice", "carol", "bob"});
  // Withdrawn while pending: the approvers' buttons go; revoked once active: only the requester.
  ev.actor = "alice";
  ev.action = "request.revoked";
  ev.status = "REVOKED";
  CHECK(chat_recipients_of("request.revoked", ev, &r, *c) == strings{"alice", "carol", "bob"});
  ev.status = "REVOKING";
  CHECK(chat_recipients_of("request.revoked", ev, &r, *c) == strings{"alice"});
  ev.actor = "system";
  ev.action = "request.pending_timeout";
  ev.status = "FAILED";
  CHECK(chat_recipients_of("request.failed", ev, &r, *c) == strings{"alice", "carol", "bob"});
  ev.action = "request.grant_abandoned";
  CHECK(chat_recipients_of("request.failed", ev, &r, *c) == strings{"alice"});
  ev.action = "request.active";
  ev.status = "ACTIVE";
  CHECK(chat_recipients_of("request.active", ev, &r, *c) == strings{"alice"});
  CHECK(chat_recipients_of("audit.request.active", ev, &r, *c).empty());
  CHECK(chat_recipients_of("request.active", ev, nullptr, *c).empty());
}

TEST_CASE("per-recipient endpoint names split back") {
  CHECK(recipient_endpoint("email", "alice") == "email:alice");
  CHECK(split_endpoint("email:alice").endpoint == "email");
  CHECK(split_endpoint("email:alice").recipient == "alice");
  CHECK(split_endpoint("siem").endpoint == "siem");
  CHECK(split_endpoint("siem").recipient.empty());
}
