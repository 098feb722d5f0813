// A slow Slack (every Web API call answered 5 s late) does not delay aponod's answer to Slack,
// which must come within 3 s: the form opens, and the decision is taken, after the answer.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "tests/support/slack_app_rig.hpp"
#include "tests/support/webhook_receiver.hpp"

using namespace apono::test;
namespace json = boost::json;
using namespace std::chrono_literals;

TEST_CASE("a 5-s slow Slack does not delay the acknowledgement") {
  slack_rig rig;
  log_on_failure show_log([&] { return rig.broker->log(); });
  const auto rid = [&] {
    auto a = create_request(*rig.broker, "alice", "appdb", "read_write", "1h", "INC-5");
    REQUIRE(a.status == 201);
    return std::string(a.json.at("id").as_string());
  }();
  auto dm = rig.wait_message(
      "approver", [&](const slack_message& m) { return has_button(m, "apono_approve", rid); },
      "the approval DM");

  // From here on every call to Slack takes 5 s: views.open, users.info, chat.postMessage...
  rig.slack.fail({"", 1000, 200, "", 0s, 5000ms});

  auto cmd = rig.slack.command(rig.url(), rig.id.at("alice"), "request");
  INFO("/apono request answered in " << cmd.took.count() << " ms");
  CHECK(cmd.status == 200);
  CHECK(cmd.took < 3s);

  auto click = rig.slack.click(rig.url(), rig.id.at("approver"), dm, "apono_approve");
  INFO("Approve answered in " << click.took.count() << " ms");
  CHECK(click.status == 200);
  CHECK(click.took < 3s);

  auto help = rig.slack.command(rig.url(), rig.id.at("bob"), "help");
  CHECK(help.status == 200);
  CHECK(help.took < 3s);

  // The work happened after the answers: the decision was taken, the form was asked for.
  rig.wait_status(rid, "ACTIVE");
  CHECK(rig.slack.wait_until([&] { return !rig.slack.calls("views.open").empty(); }, 30s));
  rig.slack.recover();
}
