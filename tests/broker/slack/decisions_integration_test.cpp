// Approving and rejecting from Slack: the approver's direct message has the buttons; Approve
// makes the request Active, every approver's copy is updated to say who decided, without
// buttons, and the requester's thread follows within a second; Reject asks for a reason, which
// the requester then reads. Each decision is audited with the approver's Slack user id.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "tests/support/slack_app_rig.hpp"
#include "tests/support/webhook_receiver.hpp"

using namespace apono::test;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// A second approver of engineers-write, so "every copy" is more than one.
const std::string two_approvers = R"(access_flows:
  - name: engineers-write-two
    requestors: {groups: [engineers]}
    targets: [{integration: pg-local, resources: ["*"], permissions: [read_write]}]
    approval: manual
    approvers: {users: [approver, admin]}
    max_duration: 4h
    default_duration: 1h
)";

std::string created_id(const api_answer& a) {
  REQUIRE(a.status == 201);
  return std::string(a.json.at("id").as_string());
}

}  // namespace

TEST_CASE("approve from the DM: Active, every copy updated, the requester's thread within 1 s") {
  slack_rig rig(two_approvers);
  log_on_failure show_log([&] { return rig.broker->log(); });
  const auto rid = created_id(create_request(*rig.broker, "alice", "appdb", "read_write", "1h",
                                             "INC-9: fix the invoice job"));
  auto is_ask = [&](const slack_message& m) { return has_button(m, "apono_approve", rid); };
  auto dm = rig.wait_message("approver", is_ask, "the approval DM of " + rid);
  rig.wait_message("admin", is_ask, "the second approver's DM of " + rid);
  CHECK(has_button(dm, "apono_reject", rid));
  CHECK(message_text(dm).find("INC-9: fix the invoice job") != std::string::npos);

  auto click = rig.slack.click(rig.url(), rig.id.at("approver"), dm, "apono_approve");
  REQUIRE(click.status == 200);
  CHECK(click.took < 3s);
  rig.wait_status(rid, "ACTIVE");
  const auto active_at = status_changed_at(*rig.broker, rid, "ACTIVE");
  rig.wait_ephemeral("approver", "You approved " + rid);

  // Every approver's copy now says who decided, and has no buttons.
  for (const char* who : {"approver", "admin"})
    rig.wait_message(
        who,
        [&](const slack_message& m) {
          return m.updates > 0 && message_text(m).find(rid) != std::string::npos &&
                 message_text(m).find("approver") != std::string::npos &&
                 !has_button(m, "apono_approve") && !has_button(m, "apono_reject");
        },
        std::string("the updated copy of ") + who);

  // The requester's thread says Active, within a second of the change.
  rig.wait_message(
      "alice",
      [&](const slack_message& m) {
        return !m.thread_ts.empty() && message_text(m).find("*Active*") != std::string::npos &&
               message_text(m).find(rid) != std::string::npos;
      },
      "alice's thread saying ACTIVE");
  std::optional<apono::common::time_point> told;
  for (const auto& c : rig.slack.calls("chat.postMessage"))
    if (c.error.empty() && json::serialize(c.args).find(rid) != std::string::npos &&
        json::serialize(c.args).find("*Active*") != std::string::npos &&
        c.args.contains("thread_ts") && !told)
      told = c.at;
  REQUIRE(told);
  INFO("ACTIVE at " << apono::common::format_rfc3339(active_at) << ", thread at "
                    << apono::common::format_rfc3339(*told));
  CHECK(*told - active_at < 1s);

  // The decision is audited as the approver's, through Slack, with their Slack id.
  bool audited = false;
  const auto audit = rig.broker->call("admin", "GET", "/api/v1/audit?request=" + rid);
  for (const auto& ev : audit.json.as_array())
    if (ev.at("action") == "request.approved") {
      audited = true;
      CHECK(ev.at("actor") == "approver");
      CHECK(ev.at("detail").at("via") == "slack");
      CHECK(ev.at("detail").at("slack_user") == rig.id.at("approver").c_str());
    }
  CHECK(audited);
}

TEST_CASE("reject from the DM asks for a reason, and the requester reads it") {
  slack_rig rig;
  log_on_failure show_log([&] { return rig.broker->log(); });
  const auto rid =
      created_id(create_request(*rig.broker, "bob", "appdb", "admin", "1h", "drop the old tables"));
  auto dm = rig.wait_message(
      "approver", [&](const slack_message& m) { return has_button(m, "apono_reject", rid); },
      "the approval DM of " + rid);
  auto click = rig.slack.click(rig.url(), rig.id.at("approver"), dm, "apono_reject");
  REQUIRE(click.status == 200);
  CHECK(click.took < 3s);
  auto dialog = rig.wait_view(
      "approver", "apono_reject_reason", [](const json::object&) { return true; },
      "the reason dialog");
  CHECK(rig.broker->call("admin", "GET", "/api/v1/access-requests/" + rid).json.at("status") ==
        "PENDING");

  // An empty reason is answered in the dialog.
  auto empty = rig.slack.interact(rig.url(), rig.id.at("approver"),
                                  submit_payload(dialog, {{"reason", {"   "}}}));
  REQUIRE(empty.json);
  CHECK(empty.json->at("response_action") == "errors");
  CHECK(empty.json->at("errors").as_object().contains("reason"));

  auto done = rig.slack.interact(rig.url(), rig.id.at("approver"),
                                 submit_payload(dialog, {{"reason", {"not during the freeze"}}}));
  REQUIRE(done.status == 200);
  CHECK(done.body.empty());
  rig.wait_status(rid, "REJECTED");
  rig.wait_message(
      "bob",
      [&](const slack_message& m) {
        return message_text(m).find(rid) != std::string::npos &&
               message_text(m).find("not during the freeze") != std::string::npos;
      },
      "bob told the reason");
  rig.wait_ephemeral("approver", "You rejected " + rid);
  auto r = rig.broker->call("admin", "GET", "/api/v1/access-requests/" + rid).json;
  CHECK(r.at("decided_by") == "approver");
  CHECK(r.at("reason") == "not during the freeze");
  CHECK(rig.slack_audit_rows(rid) == 1);
}
