// The Slack <-> apono user directory against the Slack stand-in: the config's mapping first,
// then the profile email (case-insensitive), users_not_found reported, answers cached until a
// reload, Slack's transient failures not cached.
#include "broker/slack/users.hpp"

#include <catch2/catch.hpp>

#include "broker/config.hpp"
#include "tests/support/slack_fixture.hpp"

namespace {

using namespace apono;
using namespace std::chrono_literals;

std::shared_ptr<const broker::config> config_for(const test::slack_fixture& slack,
                                                 const std::string& mapping) {
  return broker::parse_config(
      "users:\n  - {name: alice, email: ALICE@example.com}\n  - {name: bob, email: "
      "bob@example.com}\n  - {name: carol}\n  - {name: dave, email: dave@example.com}\n"
      "notifications:\n" +
          slack.config_yaml(2) + mapping,
      "test.yaml");
}

}  // namespace

TEST_CASE("Slack users map to apono users and back") {
  test::slack_fixture slack;
  const auto alice = slack.add_user("alice", "alice@example.com");
  const auto bob_slack = slack.add_user("bobby", "robert@personal.example");
  const auto stranger = slack.add_user("eve", "eve@example.com");
  const auto hidden = slack.add_user("zed", "");
  broker::config_holder holder(config_for(slack, "    users: {" + bob_slack + ": bob}\n"));
  broker::slack::web_api api(*holder.get()->notifications.slack);
  common::manual_clock clock(common::from_unix_ms(1'800'000'000'000));
  broker::slack::directory dir(api, holder, clock);

  // By profile email, whatever its case.
  CHECK(dir.apono_user(alice).id == "alice");
  CHECK(dir.slack_user("alice").id == alice);
  // By the explicit mapping, before any lookup: Slack is not asked.
  const auto calls_before = slack.calls().size();
  CHECK(dir.apono_user(bob_slack).id == "bob");
  CHECK(dir.slack_user("bob").id == bob_slack);
  CHECK(slack.calls().size() == calls_before);

  auto e = dir.apono_user(stranger);
  CHECK_FALSE(e.id);
  CHECK(e.error == "no apono user has the email of Slack user " + stranger);
  CHECK_FALSE(e.retryable);
  CHECK(dir.apono_user(hidden).error.find("users:read.email") != std::string::npos);
  auto none = dir.slack_user("dave");
  CHECK_FALSE(none.id);
  CHECK(none.error.starts_with("users_not_found"));
  CHECK_FALSE(none.retryable);
  CHECK(dir.slack_user("carol").error.find("no email") != std::string::npos);

  SECTION("answers are cached for a few minutes") {
    const auto n = slack.calls().size();
    CHECK(dir.apono_user(alice).id == "alice");
    CHECK(dir.slack_user("dave").error.starts_with("users_not_found"));
    CHECK(slack.calls().size() == n);
    clock.advance(6min);
    CHECK(dir.apono_user(alice).id == "alice");
    CHECK(slack.calls().size() == n + 1);
  }
  SECTION("a reload empties the cache") {
    const auto n = slack.calls().size();
    holder.set(config_for(slack, ""));
    CHECK(dir.apono_user(alice).id == "alice");
    CHECK(slack.calls().size() == n + 1);
  }
  SECTION("Slack's transient failures are retryable and not cached") {
    slack.fail({"users.lookupByEmail", 1, 429, "", 3s});
    holder.set(config_for(slack, ""));
    auto r = dir.slack_user("alice");
    CHECK_FALSE(r.id);
    CHECK(r.retryable);
    CHECK(r.error == "ratelimited");
    CHECK(dir.slack_user("alice").id == alice);
  }
}
