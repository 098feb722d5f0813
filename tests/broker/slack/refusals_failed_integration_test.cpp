// A click on a request that failed (its grant could not be made): Approve and Reject are each
// answered with an ephemeral message and change nothing; the status stays FAILED and the audit
// trail has no row from Slack. Apart from the other refusals: its five grant attempts take a
// while, and one ctest entry each keeps both well inside the time limit under ASan.
#include <catch2/catch.hpp>

#include "tests/support/process.hpp"
#include "tests/support/slack_app_rig.hpp"
#include "tests/support/webhook_receiver.hpp"

using namespace apono::test;
using namespace std::chrono_literals;

namespace {

std::string status_of(slack_rig& rig, const std::string& rid) {
  return request_status(*rig.broker, "admin", rid);
}

}  // namespace

TEST_CASE("a click after the request failed changes nothing and is not audited") {
  slack_rig rig("", {"doomed"});
  log_on_failure show_log([&] { return rig.broker->log(); });
  // A database that is gone by the time the grant runs: every attempt fails.
  auto dead = create_request(*rig.broker, "alice", "doomed", "read_write", "1h", "INC-2");
  REQUIRE(dead.status == 201);
  const std::string did(dead.json.at("id").as_string());
  auto ask = rig.wait_message(
      "approver", [&](const slack_message& m) { return has_button(m, "apono_approve", did); },
      "the approval DM of the doomed request");
  rig.pg.psql("DROP DATABASE doomed");
  REQUIRE(
      rig.broker->call("approver", "POST", "/api/v1/access-requests/" + did + "/approve").status ==
      200);
  // Five grant attempts with backoff (about 15 s), then FAILED.
  std::string seen;
  bool failed = wait_until(
      [&] {
        seen = status_of(rig, did);
        return seen == "FAILED";
      },
      90s);
  INFO("awaited FAILED, saw " << seen);
  REQUIRE(failed);
  const auto rows = rig.slack_audit_rows(did);
  REQUIRE(rig.slack.click(rig.url(), rig.id.at("approver"), ask, "apono_approve").status == 200);
  rig.wait_ephemeral("approver", did + " has failed");
  REQUIRE(rig.slack.click(rig.url(), rig.id.at("approver"), ask, "apono_reject").status == 200);
  rig.slack.wait_until(
      [&] {
        std::size_t n = 0;
        for (const auto& m : rig.slack.messages(rig.id.at("approver")))
          n += m.ephemeral && message_text(m).find(did + " has failed") != std::string::npos;
        return n == 2;
      },
      30s);
  CHECK(status_of(rig, did) == "FAILED");
  CHECK(rig.slack_audit_rows(did) == rows);
  CHECK(rig.slack.calls("views.open").empty());
}
