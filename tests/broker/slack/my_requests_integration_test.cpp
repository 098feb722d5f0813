// `/apono my requests` lists the active requests and those of the last seven days with status
// and time left; `/apono help` and an unknown subcommand answer at once; and Request again on an
// expired request's thread asks for a new justification and creates the same request.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "tests/support/slack_app_rig.hpp"
#include "tests/support/webhook_receiver.hpp"

using namespace apono::test;
namespace json = boost::json;
using namespace std::chrono_literals;

TEST_CASE("/apono my requests, help, and Request again from an expired request's thread") {
  slack_rig rig;
  log_on_failure show_log([&] { return rig.broker->log(); });
  const auto alice = rig.id.at("alice");

  auto help = rig.slack.command(rig.url(), alice, "help");
  REQUIRE(help.status == 200);
  REQUIRE(help.json);
  CHECK(help.json->at("response_type") == "ephemeral");
  CHECK(help.body.find("/apono my requests") != std::string::npos);
  auto typo = rig.slack.command(rig.url(), alice, "reqeust");
  REQUIRE(typo.json);
  CHECK(typo.body.find("Unknown subcommand `reqeust`") != std::string::npos);
  CHECK(typo.body.find("/apono request") != std::string::npos);

  // One that expires in seconds, one Active for an hour, one waiting for approval.
  auto short_one = create_request(*rig.broker, "alice", "appdb", "read_only", "4s", "INC-3");
  REQUIRE(short_one.status == 201);
  const std::string expiring(short_one.json.at("id").as_string());
  rig.wait_status(expiring, "EXPIRED");
  auto active = create_request(*rig.broker, "alice", "appdb", "read_only", "1h", "INC-4");
  REQUIRE(active.status == 201);
  const std::string aid(active.json.at("id").as_string());
  rig.wait_status(aid, "ACTIVE");
  auto pending = create_request(*rig.broker, "alice", "appdb", "read_write", "1h", "INC-5");
  REQUIRE(pending.status == 201);
  const std::string pid(pending.json.at("id").as_string());

  auto mine = rig.slack.command(rig.url(), alice, "my  Requests");
  REQUIRE(mine.status == 200);
  CHECK(mine.took < 3s);
  auto list = rig.wait_ephemeral("alice", "Your requests");
  const auto text = message_text(list);
  INFO(text);
  CHECK(text.find(aid) != std::string::npos);
  CHECK(text.find(pid) != std::string::npos);
  CHECK(text.find(expiring) != std::string::npos);
  CHECK(text.find("`ACTIVE` · 5") != std::string::npos);  // 59m or 58m left
  CHECK(text.find("m left") != std::string::npos);
  CHECK(text.find("`PENDING`") != std::string::npos);
  CHECK(text.find("`EXPIRED`") != std::string::npos);
  // Active first.
  CHECK(text.find(aid) < text.find(pid));

  // Request again, from the expired request's message.
  auto again_msg = rig.wait_message(
      "alice",
      [&](const slack_message& m) { return has_button(m, "apono_request_again", expiring); },
      "the Request again button of " + expiring);
  REQUIRE(rig.slack.click(rig.url(), alice, again_msg, "apono_request_again").status == 200);
  auto dialog = rig.wait_view(
      "alice", "apono_request_again", [](const json::object&) { return true; },
      "the request again dialog");
  // A justification is required; a bad duration is answered in the dialog.
  auto refused =
      rig.slack.interact(rig.url(), alice, submit_payload(dialog, {{"duration", {"x"}}}));
  REQUIRE(refused.json);
  CHECK(refused.json->at("errors").as_object().contains("duration"));
  refused = rig.slack.interact(rig.url(), alice, submit_payload(dialog, {}));
  REQUIRE(refused.json);
  CHECK(refused.json->at("errors").as_object().contains("justification"));
  auto done = rig.slack.interact(
      rig.url(), alice,
      submit_payload(dialog, {{"justification", {"INC-3 is back"}}, {"duration", {"30m"}}}));
  REQUIRE(done.status == 200);
  CHECK(done.body.empty());
  auto created = rig.wait_ephemeral("alice", "-j 'INC-3 is back' -d 30m");
  CHECK(message_text(created).find(
            "apono requests create -i pg-local -t database -r appdb -p read_only") !=
        std::string::npos);
  auto all = rig.broker->call("alice", "GET", "/api/v1/access-requests").json.as_array();
  REQUIRE(all.size() == 4);
  const auto& newest = all[0];
  const std::string nid(newest.at("id").as_string());
  CHECK(newest.at("justification") == "INC-3 is back");
  CHECK(newest.at("duration_seconds") == 1800);
  rig.wait_status(nid, "ACTIVE");
  // Revoke, from the Active request's message (Slack asks its confirmation first).
  auto active_msg = rig.wait_message(
      "alice", [&](const slack_message& m) { return has_button(m, "apono_revoke", nid); },
      "the Revoke button of " + nid);
  REQUIRE(rig.slack.click(rig.url(), alice, active_msg, "apono_revoke").status == 200);
  rig.wait_status(nid, "REVOKED");
  auto audit = rig.broker->call("admin", "GET", "/api/v1/audit?request=" + nid).json.as_array();
  bool revoked_via_slack = false;
  for (const auto& ev : audit)
    revoked_via_slack =
        revoked_via_slack ||
        (ev.at("action") == "request.revoked" && ev.at("detail").at("via") == "slack" &&
         ev.at("detail").at("reason") == "revoked from Slack by alice");
  CHECK(revoked_via_slack);
}
