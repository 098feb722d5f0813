// The gate of /slack/commands and /slack/interactions on a real aponod: a bad signature, a
// stale timestamp, missing headers and a replay are 401 and change nothing; a signed but
// malformed body is a one-line 400; a broker without Slack answers 404.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <ctime>

#include "broker/slack/request_check.hpp"
#include "tests/support/slack_app_rig.hpp"
#include "tests/support/webhook_receiver.hpp"

using namespace apono::test;
namespace json = boost::json;
using namespace std::chrono_literals;
using headers = std::vector<std::pair<std::string, std::string>>;

namespace {

const std::string form = "application/x-www-form-urlencoded";

std::string now_ts(std::chrono::seconds shift = {}) {
  return std::to_string(static_cast<long long>(std::time(nullptr) + shift.count()));
}

headers signed_by(const std::string& secret, const std::string& ts, const std::string& body) {
  return {{"X-Slack-Request-Timestamp", ts},
          {"X-Slack-Signature", apono::broker::slack::sign_v0(secret, ts, body)}};
}

std::string error_code(const slack_reply& r) {
  return r.json && r.json->is_object() ? std::string(r.json->at("error").at("code").as_string())
                                       : std::string();
}

}  // namespace

TEST_CASE("unsigned, badly signed, stale and replayed requests are 401 and change nothing") {
  slack_rig rig;
  log_on_failure show_log([&] { return rig.broker->log(); });
  const auto commands = rig.url() + "/slack/commands";
  const auto interactions = rig.url() + "/slack/interactions";
  const auto& secret = rig.slack.signing_secret();
  const auto alice = rig.id.at("alice");
  // A command that would open a form, and a submission that would create a request.
  const std::string body = "command=%2Fapono&text=request&user_id=" + alice +
                           "&channel_id=D1&trigger_id=" + alice + ".1.x&response_url=";
  const std::string submission =
      "payload=" +
      std::string(R"(%7B%22type%22%3A%22view_submission%22%2C%22user%22%3A%7B%22id%22%3A%22)") +
      alice + R"(%22%7D%7D)";

  auto missing = rig.slack.post_raw(commands, form, {}, body);
  CHECK(missing.status == 401);
  CHECK(missing.took < 3s);
  CHECK(missing.body.find("missing") != std::string::npos);
  auto half = rig.slack.post_raw(commands, form, {{"X-Slack-Request-Timestamp", now_ts()}}, body);
  CHECK(half.status == 401);

  auto bad = rig.slack.post_raw(commands, form, signed_by("not-the-secret", now_ts(), body), body);
  CHECK(bad.status == 401);
  CHECK(error_code(bad) == "unauthenticated");
  CHECK(bad.body.find("signature") != std::string::npos);
  // A body changed after signing.
  auto tampered =
      rig.slack.post_raw(commands, form, signed_by(secret, now_ts(), body), body + "&text=help");
  CHECK(tampered.status == 401);

  const auto old = now_ts(-6min);
  auto stale = rig.slack.post_raw(commands, form, signed_by(secret, old, body), body);
  CHECK(stale.status == 401);
  CHECK(stale.body.find("stale") != std::string::npos);
  auto future = rig.slack.post_raw(commands, form, signed_by(secret, now_ts(6min), body), body);
  CHECK(future.status == 401);

  // Nothing reached the app: no form opened, no reply sent.
  CHECK(rig.slack.calls("views.open").empty());
  CHECK(rig.slack.calls("response_url").empty());

  // Signed properly, a malformed body is a 400 naming the problem, never a 500.
  for (const auto& [path, b, why] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {interactions, "payload=%7Bnot%20json", "JSON"},
           {interactions, "other=1", "payload"},
           {interactions, "payload=%5B1%5D", "object"},
           {interactions, "payload=" + std::string(R"(%7B%22type%22%3A%22block_actions%22%7D)"),
            "user.id"},
           {interactions, "payload=%ZZ", "escape"},
           {commands, "text=request", "user_id"},
           {commands, "a=1&a=2", "twice"}}) {
    auto r = rig.slack.post_raw(path, form, signed_by(secret, now_ts(), b), b);
    INFO(path << " " << b << " -> " << r.status << " " << r.body);
    CHECK(r.status == 400);
    CHECK(error_code(r) == "invalid_argument");
  }
  auto json_type =
      rig.slack.post_raw(commands, "application/json", signed_by(secret, now_ts(), "{}"), "{}");
  CHECK(json_type.status == 400);

  // A replay: the same signed submission twice. The first counts, the second is refused.
  const auto ts = now_ts();
  auto first = rig.slack.post_raw(commands, form, signed_by(secret, ts, body), body);
  CHECK(first.status == 200);
  CHECK(first.took < 3s);
  // Acted on: it asked Slack to open the form (with a trigger the stand-in never issued, so
  // Slack refuses, and the user is told).
  REQUIRE(rig.slack.wait_until([&] { return rig.slack.calls("views.open").size() == 1; }, 30s));
  auto again = rig.slack.post_raw(commands, form, signed_by(secret, ts, body), body);
  CHECK(again.status == 401);
  CHECK(again.body.find("replay") != std::string::npos);
  // Slack's own retry of it (signed afresh, so no replay): acknowledged, not acted on again.
  auto retry_headers = signed_by(secret, now_ts(1s), body);
  retry_headers.emplace_back("X-Slack-Retry-Num", "1");
  retry_headers.emplace_back("X-Slack-Retry-Reason", "http_timeout");
  auto retry = rig.slack.post_raw(commands, form, retry_headers, body);
  CHECK(retry.status == 200);
  CHECK(retry.body.empty());
  auto signed_submit = signed_by(secret, ts, submission);
  CHECK(rig.slack.post_raw(interactions, form, signed_submit, submission).status != 401);
  CHECK(rig.slack.post_raw(interactions, form, signed_submit, submission).status == 401);
  // The replays and the retry did nothing: still one views.open, and no request, after a later
  // command's reply.
  REQUIRE(rig.slack.command(rig.url(), alice, "my requests").status == 200);
  rig.wait_ephemeral("alice", "No active requests");
  CHECK(rig.slack.calls("views.open").size() == 1);
  CHECK(rig.broker->call("admin", "GET", "/api/v1/access-requests?scope=all")
            .json.as_array()
            .empty());
}

TEST_CASE("a broker without Slack answers 404 on the Slack paths") {
  pg_fixture pg;
  broker_fixture b(pg);
  for (const char* path : {"/slack/commands", "/slack/interactions"}) {
    auto r = raw_https(b, "POST", path, {{"Content-Type", form}}, "text=help");
    INFO(path << " " << r.body);
    CHECK(r.status == 404);
  }
  // A GET is no page of the portal either.
  CHECK(raw_https(b, "GET", "/slack/commands", {}).status == 404);
}
