// Clicks that may not act: someone who is not an approver of the flow, the requester approving
// their own request, a second click, and a Slack user who is no apono user (a click on a request
// that failed: refusals_failed_integration_test.cpp). Each is answered with an ephemeral message
// and changes nothing: the status stays, and the audit trail has no row from Slack.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "tests/support/process.hpp"
#include "tests/support/slack_app_rig.hpp"
#include "tests/support/webhook_receiver.hpp"

using namespace apono::test;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// approver may request `admin` on pg-local under a flow that approver and admin approve, so
// admin's DM has buttons approver can click on their own request.
const std::string extra = R"(access_flows:
  - name: approvers-admin
    requestors: {users: [approver]}
    targets: [{integration: pg-local, resources: ["*"], permissions: [admin]}]
    approval: manual
    approvers: {users: [approver, admin]}
)";

std::string status_of(slack_rig& rig, const std::string& rid) {
  return request_status(*rig.broker, "admin", rid);
}

}  // namespace

TEST_CASE("refused clicks change nothing and are not audited") {
  slack_rig rig(extra);
  log_on_failure show_log([&] { return rig.broker->log(); });

  // alice's manual request: approver's DM has the buttons.
  auto created = create_request(*rig.broker, "alice", "appdb", "read_write", "1h", "INC-1");
  REQUIRE(created.status == 201);
  const std::string rid(created.json.at("id").as_string());
  const auto dm = rig.wait_message(
      "approver", [&](const slack_message& m) { return has_button(m, "apono_approve", rid); },
      "the approval DM");

  SECTION("someone who is not an approver of the flow") {
    for (const char* who : {"bob", "admin"}) {  // admin is no approver of engineers-write
      auto r = rig.slack.click(rig.url(), rig.id.at(who), dm, "apono_approve");
      REQUIRE(r.status == 200);
      rig.wait_ephemeral(who, "not an approver");
      r = rig.slack.click(rig.url(), rig.id.at(who), dm, "apono_reject");
      REQUIRE(r.status == 200);
    }
    // The reject clicks opened no dialog, and said why.
    rig.slack.wait_until(
        [&] {
          std::size_t n = 0;
          for (const auto& m : rig.slack.messages(rig.id.at("approver")))
            n += m.ephemeral && message_text(m).find("not an approver") != std::string::npos;
          return n == 4;
        },
        30s);
    CHECK(rig.slack.calls("views.open").empty());
    CHECK(status_of(rig, rid) == "PENDING");
    CHECK(rig.slack_audit_rows(rid) == 0);
  }

  SECTION("a Slack user who is no apono user") {
    const auto stranger = rig.slack.add_user("stranger", "stranger@elsewhere.example");
    rig.id["stranger"] = stranger;
    REQUIRE(rig.slack.click(rig.url(), stranger, dm, "apono_approve").status == 200);
    rig.wait_ephemeral("stranger", "Your Slack account is not linked to an apono user");
    CHECK(status_of(rig, rid) == "PENDING");
    CHECK(rig.slack_audit_rows(rid) == 0);
  }

  SECTION("a double click") {
    REQUIRE(rig.slack.click(rig.url(), rig.id.at("approver"), dm, "apono_approve").status == 200);
    rig.wait_ephemeral("approver", "You approved " + rid);
    rig.wait_status(rid, "ACTIVE");
    const auto rows = rig.slack_audit_rows(rid);
    CHECK(rows == 1);
    // The same (stale) message clicked again, both buttons.
    REQUIRE(rig.slack.click(rig.url(), rig.id.at("approver"), dm, "apono_approve").status == 200);
    rig.wait_ephemeral("approver", rid + " was already approved by approver");
    REQUIRE(rig.slack.click(rig.url(), rig.id.at("approver"), dm, "apono_reject").status == 200);
    rig.slack.wait_until(
        [&] {
          std::size_t n = 0;
          for (const auto& m : rig.slack.messages(rig.id.at("approver")))
            n += m.ephemeral && message_text(m).find("already approved") != std::string::npos;
          return n == 2;
        },
        30s);
    CHECK(rig.slack.calls("views.open").empty());
    CHECK(status_of(rig, rid) == "ACTIVE");
    CHECK(rig.slack_audit_rows(rid) == rows);
  }

  SECTION("a self-approval") {
    auto own = create_request(*rig.broker, "approver", "appdb", "admin", "1h", "my own");
    REQUIRE(own.status == 201);
    const std::string oid(own.json.at("id").as_string());
    // admin is asked; approver clicks admin's copy of the buttons.
    auto admins = rig.wait_message(
        "admin", [&](const slack_message& m) { return has_button(m, "apono_approve", oid); },
        "admin's approval DM");
    REQUIRE(rig.slack.click(rig.url(), rig.id.at("approver"), admins, "apono_approve").status ==
            200);
    rig.wait_ephemeral("approver", "You cannot approve your own request");
    REQUIRE(rig.slack.click(rig.url(), rig.id.at("approver"), admins, "apono_reject").status ==
            200);
    rig.wait_ephemeral("approver", "You cannot reject your own request");
    CHECK(status_of(rig, oid) == "PENDING");
    CHECK(rig.slack_audit_rows(oid) == 0);
    CHECK(rig.slack.calls("views.open").empty());
  }
}
