// `/apono request` end to end against a real aponod and PostgreSQL and the Slack stand-in: the
// modal opens, each pick updates the next list (views.update), a submission the API's dry run
// refuses is answered in the form, a valid one creates the request (automatic flow: Active),
// the requester gets the CLI command that repeats it and a thread that follows it, and the
// Access details button shows how to connect without the password.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "tests/support/slack_app_rig.hpp"
#include "tests/support/webhook_receiver.hpp"

using namespace apono::test;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("/apono request: dependent selects, an automatic request turns Active, details") {
  slack_rig rig;
  log_on_failure show_log([&] { return rig.broker->log(); });
  const auto alice = rig.id.at("alice");
  auto any = [](const json::object&) { return true; };

  auto ack = rig.slack.command(rig.url(), alice, "request");
  REQUIRE(ack.status == 200);
  CHECK(ack.took < 3s);
  auto form = rig.wait_view("alice", "apono_request_form", any, "the form");
  CHECK(offered(form, "integration") == std::vector<std::string>{"pg-local"});
  CHECK(find_block(form, "resources:pg-local") == nullptr);

  // Each pick: block_actions, answered at once, then views.update with the next list.
  picks p{{"integration", {"pg-local"}}};
  auto updates = rig.slack.calls("views.update").size();
  auto r = rig.slack.interact(rig.url(), alice, pick_payload(form, p, "integration"));
  REQUIRE(r.status == 200);
  CHECK(r.took < 3s);
  form = rig.wait_view(
      "alice", "apono_request_form",
      [](const json::object& v) { return find_block(v, "resources:pg-local") != nullptr; },
      "the resources of pg-local");
  CHECK(rig.slack.calls("views.update").size() == updates + 1);
  CHECK(offered(form, "resource_type:pg-local") == std::vector<std::string>{"database"});
  CHECK(contains(offered(form, "resources:pg-local"), "appdb"));

  p["resources:pg-local"] = {"appdb"};
  REQUIRE(
      rig.slack.interact(rig.url(), alice, pick_payload(form, p, "resources:pg-local")).status ==
      200);
  // The next pick carries this view's hash, so it must be the view updated after this pick.
  form = rig.wait_view(
      "alice", "apono_request_form",
      [](const json::object& v) {
        const auto* b = find_block(v, "resources:pg-local");
        return b && b->at("element").as_object().contains("initial_options");
      },
      "the permissions allowed on appdb");
  // alice's flows allow read_only (automatic) and read_write, admin (manual); nothing else.
  CHECK(offered(form, "permissions:pg-local") ==
        std::vector<std::string>{"read_only", "read_write", "admin"});

  p["permissions:pg-local"] = {"read_only"};
  REQUIRE(
      rig.slack.interact(rig.url(), alice, pick_payload(form, p, "permissions:pg-local")).status ==
      200);
  form = rig.wait_view(
      "alice", "apono_request_form",
      [](const json::object& v) {
        return json::serialize(v).find("engineers-read-only") != std::string::npos;
      },
      "the flow that will govern it");
  CHECK(json::serialize(form).find("approved automatically") != std::string::npos);

  // No justification: the API's dry run refuses it, and the answer lands on that field.
  auto refused = rig.slack.interact(rig.url(), alice, submit_payload(form, p));
  REQUIRE(refused.status == 200);
  REQUIRE(refused.json);
  INFO(refused.body);
  CHECK(refused.json->at("response_action") == "errors");
  CHECK(std::string(refused.json->at("errors").at("justification").as_string())
            .find("justification is required") != std::string::npos);
  // A duration over the flow's maximum: on the duration field.
  p["justification"] = {"INC-42: check the orders table"};
  p["duration"] = {"9"};
  refused = rig.slack.interact(rig.url(), alice, submit_payload(form, p));
  REQUIRE(refused.json);
  CHECK(refused.json->at("errors").as_object().contains("duration"));
  CHECK(rig.broker->call("alice", "GET", "/api/v1/access-requests").json.as_array().empty());

  p["duration"] = {"1.5"};
  auto submitted = rig.slack.interact(rig.url(), alice, submit_payload(form, p));
  REQUIRE(submitted.status == 200);
  CHECK(submitted.body.empty());  // the modal closes
  CHECK(submitted.took < 3s);

  // The result, with the command that repeats it from the CLI.
  auto result =
      rig.wait_ephemeral("alice",
                         "apono requests create -i pg-local -t database -r appdb -p read_only -j "
                         "'INC-42: check the orders table' -d 1.5");
  auto mine = rig.broker->call("alice", "GET", "/api/v1/access-requests").json.as_array();
  REQUIRE(mine.size() == 1);
  const std::string rid(mine[0].at("id").as_string());
  CHECK(message_text(result).find(rid) != std::string::npos);
  CHECK(mine[0].at("duration_seconds") == 5400);
  rig.wait_status(rid, "ACTIVE");

  // The requester's thread says so.
  rig.wait_message(
      "alice",
      [&](const slack_message& m) {
        return !m.ephemeral && !m.thread_ts.empty() &&
               message_text(m).find(rid) != std::string::npos &&
               message_text(m).find("*Active*") != std::string::npos;
      },
      "a thread reply saying " + rid + " is ACTIVE");

  // Access details: a modal for alice, how to connect, no password.
  auto with_details = rig.wait_message(
      "alice", [&](const slack_message& m) { return has_button(m, "apono_details", rid); },
      "a message with the Access details button");
  auto details_api =
      rig.broker->call("alice", "GET", "/api/v1/access-sessions/" + rid + "/access-details");
  REQUIRE(details_api.status == 200);
  const auto& unit = details_api.json.at("units").at(0);
  const std::string password(unit.at("password").as_string());
  REQUIRE(!password.empty());
  auto click = rig.slack.click(rig.url(), alice, with_details, "apono_details");
  REQUIRE(click.status == 200);
  CHECK(click.took < 3s);
  auto details = rig.wait_view("alice", "apono_access_details", any, "the access details");
  const auto text = json::serialize(details);
  INFO(text);
  CHECK(text.find("apono access connect " + rid) != std::string::npos);
  CHECK(text.find(std::string(unit.at("host").as_string())) != std::string::npos);
  CHECK(text.find(std::to_string(unit.at("port").as_int64())) != std::string::npos);
  CHECK(text.find(std::string(unit.at("username").as_string())) != std::string::npos);
  CHECK(text.find(password) == std::string::npos);
  // Nothing sent to Slack, ever, holds the password.
  for (const auto& c : rig.slack.calls())
    CHECK(json::serialize(c.args).find(password) == std::string::npos);
  CHECK(rig.broker->log().find(password) == std::string::npos);

  // bob's click on alice's details is refused: details are for the requester only.
  rig.slack.click(rig.url(), rig.id.at("bob"), with_details, "apono_details");
  rig.wait_ephemeral("bob", "not one of your requests");
  // What alice did from Slack is audited as hers, through Slack, with her Slack id.
  auto audit = rig.broker->call("admin", "GET", "/api/v1/audit?request=" + rid).json.as_array();
  std::size_t from_slack = 0;
  for (const auto& ev : audit) {
    const auto& d = ev.at("detail").as_object();
    if (d.contains("slack_user")) {
      ++from_slack;
      CHECK(ev.at("actor") == "alice");
      CHECK(d.at("slack_user") == alice.c_str());
      CHECK(d.at("via") == "slack");
    }
  }
  CHECK(from_slack == 2);  // request.created and access_details.fetched
}

TEST_CASE("a bundle from the form, and a form for someone Slack cannot link") {
  slack_rig rig;
  log_on_failure show_log([&] { return rig.broker->log(); });
  const auto alice = rig.id.at("alice");
  REQUIRE(rig.slack.command(rig.url(), alice, "request").status == 200);
  auto form = rig.wait_view(
      "alice", "apono_request_form",
      [](const json::object& v) { return find_block(v, "mode") != nullptr; },
      "the form with the bundle choice");
  picks p{{"mode", {"bundle"}}};
  REQUIRE(rig.slack.interact(rig.url(), alice, pick_payload(form, p, "mode")).status == 200);
  form = rig.wait_view(
      "alice", "apono_request_form",
      [](const json::object& v) { return find_block(v, "bundle") != nullptr; }, "the bundles");
  CHECK(offered(form, "bundle") == std::vector<std::string>{"all-databases-read-only"});
  p["bundle"] = {"all-databases-read-only"};
  p["justification"] = {"quarterly report"};
  REQUIRE(rig.slack.interact(rig.url(), alice, submit_payload(form, p)).status == 200);
  rig.wait_ephemeral(
      "alice", "apono requests create --bundle all-databases-read-only -j 'quarterly report'");

  // Someone whose Slack email is no apono user's: told so, nothing opened.
  const auto stranger = rig.slack.add_user("stranger", "stranger@elsewhere.example");
  auto opened = rig.slack.calls("views.open").size();
  REQUIRE(rig.slack.command(rig.url(), stranger, "request").status == 200);
  rig.id["stranger"] = stranger;
  rig.wait_ephemeral("stranger", "Your Slack account is not linked to an apono user");
  CHECK(rig.slack.calls("views.open").size() == opened);
}
