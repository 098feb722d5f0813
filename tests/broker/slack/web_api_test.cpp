// The Web API client against the Slack stand-in: a call that works, Slack's `ok: false`, a 429
// with its Retry-After, a 500, a wrong token, no answer at all; no error names the token.
#include "broker/slack/web_api.hpp"

#include <catch2/catch.hpp>

#include "tests/support/slack_fixture.hpp"

namespace {

using namespace apono;
namespace json = boost::json;
using namespace std::chrono_literals;

broker::slack::slack_config config_for(const test::slack_fixture& slack) {
  broker::slack::slack_config c;
  c.api_base_url = slack.api_url();
  c.ca_file = slack.ca_file();
  c.bot_token = slack.bot_token();
  c.signing_secret = slack.signing_secret();
  return c;
}

}  // namespace

TEST_CASE("Web API calls: ok, ok:false, 429 with Retry-After, 500 and a bad token") {
  test::slack_fixture slack;
  const auto alice = slack.add_user("alice", "alice@example.com");
  broker::slack::web_api api(config_for(slack));

  auto r = api.call("auth.test", {});
  CHECK(r.ok);
  CHECK(r.http_status == 200);
  CHECK(r.body.at("user").as_string() == "apono");
  // The stand-in saw the token as a bearer and JSON in UTF-8.
  REQUIRE(slack.calls("auth.test").size() == 1);
  CHECK(slack.calls("auth.test")[0].token == slack.bot_token());

  auto posted = api.call("chat.postMessage", {{"channel", alice}, {"text", "hello"}});
  CHECK(posted.ok);
  CHECK(posted.body.at("channel").as_string().front() == 'D');

  slack.fail({"chat.postMessage", 1, 200, "not_in_channel"});
  r = api.call("chat.postMessage", {{"channel", alice}, {"text", "hello"}});
  CHECK_FALSE(r.ok);
  CHECK(r.http_status == 200);
  CHECK(r.error == "not_in_channel");

  slack.fail({"chat.postMessage", 1, 429, "", 7s});
  r = api.call("chat.postMessage", {{"channel", alice}, {"text", "hello"}});
  CHECK_FALSE(r.ok);
  CHECK(r.http_status == 429);
  CHECK(r.error == "ratelimited");
  REQUIRE(r.retry_after);
  CHECK(*r.retry_after == 7s);

  slack.fail({"", 1, 500, ""});
  r = api.call("chat.postMessage", {{"channel", alice}, {"text", "hello"}});
  CHECK_FALSE(r.ok);
  CHECK(r.http_status == 500);
  CHECK(r.error == "Slack answered HTTP 500");

  // Only the first injected failure's calls failed: the next goes through.
  CHECK(api.call("chat.postMessage", {{"channel", alice}, {"text", "again"}}).ok);
  CHECK(slack.messages(alice).size() == 2);

  auto bad_cfg = config_for(slack);
  bad_cfg.bot_token = "xoxb-not-the-token-of-this-app";
  broker::slack::web_api bad(bad_cfg);
  r = bad.call("auth.test", {});
  CHECK_FALSE(r.ok);
  CHECK(r.error == "invalid_auth");

  // No token at all: not_authed (Slack's answer to a call without one).
  slack.set_aponod_ca(slack.ca_file());
  auto raw = slack.post_raw(slack.api_url() + "/auth.test", "application/json", {}, "{}");
  REQUIRE(raw.json);
  CHECK(raw.json->at("error").as_string() == "not_authed");
}

TEST_CASE("Web API errors without an answer are one line without the token") {
  broker::slack::slack_config c;
  c.api_base_url = "https://127.0.0.1:1/api";  // nothing listens on port 1
  c.bot_token = "xoxb-secret-token-never-shown";
  broker::slack::web_api api(c);
  auto r = api.call("auth.test", {}, 2s);
  CHECK_FALSE(r.ok);
  CHECK(r.http_status == 0);
  CHECK_FALSE(r.error.empty());
  CHECK(r.error.find('\n') == std::string::npos);
  CHECK(r.error.find("xoxb-secret-token-never-shown") == std::string::npos);
  // A response_url elsewhere than Slack's is never posted to.
  auto foreign = api.respond("https://evil.example.com/hooks/1", {{"text", "x"}});
  CHECK_FALSE(foreign.ok);
  CHECK(foreign.error == "response_url is not one of Slack's");
}

TEST_CASE("users.info and users.lookupByEmail take form arguments, as Slack's read methods do") {
  test::slack_fixture slack;
  const auto alice = slack.add_user("alice", "Alice@Example.com");
  broker::slack::web_api api(config_for(slack));
  auto info = api.call_form("users.info", {{"user", alice}});
  REQUIRE(info.ok);
  CHECK(info.body.at("user").at("profile").at("email").as_string() == "Alice@Example.com");
  CHECK(api.call_form("users.lookupByEmail", {{"email", "alice@example.com"}})
            .body.at("user")
            .at("id")
            .as_string() == alice);
  CHECK(api.call_form("users.lookupByEmail", {{"email", "bob@example.com"}}).error ==
        "users_not_found");
  // A JSON body is ignored there, as by Slack: the user is not found.
  CHECK(api.call("users.info", {{"user", alice}}).error == "user_not_found");
}
