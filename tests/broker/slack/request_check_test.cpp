// Slack's v0 request signing: Slack's own documented example verifies, and a wrong secret, a
// changed body, a stale or future timestamp, missing or malformed headers and a replay (also
// through a second store object on the same database, as a second replica) are refused.
#include "broker/slack/request_check.hpp"

#include <catch2/catch.hpp>

#include "broker/store/sqlite_store.hpp"
#include "tests/support/process.hpp"

namespace {

using namespace apono;
using broker::slack::verdict;
using namespace std::chrono_literals;

// From Slack's "Verifying requests from Slack".
const std::string doc_secret = "8f742231b10e8888abcd99yyyzzz85a5";
const std::string doc_timestamp = "1531420618";
const std::string doc_body =
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
    "G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-"
    "collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%"
    "2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121."
    "803a0bc887a14d10d2c447fce8b6703c";
const std::string doc_signature =
    "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
const auto doc_time = common::time_point{std::chrono::seconds{1531420618}};

broker::http::request signed_request(const std::string& body, const std::string& ts,
                                     const std::string& sig) {
  broker::http::request req;
  req.method = "POST";
  req.target = "/slack/commands";
  req.content_type = "application/x-www-form-urlencoded";
  req.body = body;
  if (!ts.empty()) req.headers.emplace_back("x-slack-request-timestamp", ts);
  if (!sig.empty()) req.headers.emplace_back("x-slack-signature", sig);
  return req;
}

}  // namespace

TEST_CASE("Slack's documented example is signed and verified as Slack does") {
  CHECK(broker::slack::sign_v0(doc_secret, doc_timestamp, doc_body) == doc_signature);
  test::temp_dir dir{"slack-check"};
  broker::sqlite_store st(dir.path / "store.db");
  const auto req = signed_request(doc_body, doc_timestamp, doc_signature);
  CHECK(broker::slack::check_request(req, doc_secret, st, doc_time + 10s) == verdict::ok);
  SECTION("the same request again is a replay, also seen by another replica's store") {
    CHECK(broker::slack::check_request(req, doc_secret, st, doc_time + 20s) == verdict::replayed);
    broker::sqlite_store other(dir.path / "store.db");
    CHECK(broker::slack::check_request(req, doc_secret, other, doc_time + 30s) ==
          verdict::replayed);
  }
}

TEST_CASE("requests not signed by Slack, stale or malformed are refused") {
  test::temp_dir dir{"slack-check"};
  broker::sqlite_store st(dir.path / "store.db");
  auto check = [&](const broker::http::request& req, common::time_point now) {
    return broker::slack::check_request(req, doc_secret, st, now);
  };
  SECTION("a wrong secret") {
    CHECK(broker::slack::check_request(signed_request(doc_body, doc_timestamp, doc_signature),
                                       "another-secret-of-32-characters!", st,
                                       doc_time) == verdict::bad_signature);
  }
  SECTION("a changed body") {
    auto body = doc_body;
    body.replace(body.find("roadrunner"), 10, "wileecoyot");
    CHECK(check(signed_request(body, doc_timestamp, doc_signature), doc_time) ==
          verdict::bad_signature);
  }
  SECTION("a changed timestamp") {
    CHECK(check(signed_request(doc_body, "1531420619", doc_signature), doc_time) ==
          verdict::bad_signature);
  }
  SECTION("older or newer than 5 minutes") {
    const auto req = signed_request(doc_body, doc_timestamp, doc_signature);
    CHECK(check(req, doc_time + 5min + 1s) == verdict::stale);
    CHECK(check(req, doc_time - 5min - 1s) == verdict::stale);
    CHECK(check(req, doc_time + 5min) == verdict::ok);
  }
  SECTION("missing or malformed headers") {
    CHECK(check(signed_request(doc_body, "", doc_signature), doc_time) == verdict::missing_headers);
    CHECK(check(signed_request(doc_body, doc_timestamp, ""), doc_time) == verdict::missing_headers);
    CHECK(check(signed_request(doc_body, "15314206x8", doc_signature), doc_time) ==
          verdict::missing_headers);
    CHECK(check(signed_request(doc_body, doc_timestamp, "v1=" + doc_signature.substr(3)),
                doc_time) == verdict::missing_headers);
    CHECK(check(signed_request(doc_body, doc_timestamp, doc_signature.substr(0, 40)), doc_time) ==
          verdict::missing_headers);
    CHECK(check(signed_request(doc_body, "99999999999999999999", doc_signature), doc_time) ==
          verdict::missing_headers);
  }
  SECTION("nothing refused is remembered: the genuine request still passes after them") {
    (void)check(signed_request(doc_body + "x", doc_timestamp, doc_signature), doc_time);
    CHECK(check(signed_request(doc_body, doc_timestamp, doc_signature), doc_time) == verdict::ok);
  }
  CHECK(std::string(broker::slack::describe(verdict::stale)).find("stale") != std::string::npos);
}

TEST_CASE("remembered requests are forgotten once too old to pass anyway") {
  test::temp_dir dir{"slack-check"};
  broker::sqlite_store st(dir.path / "store.db");
  const auto t = doc_time;
  st.transact([&](broker::store_tx& tx) {
    CHECK(tx.remember_slack_request("a", t + 1min, t));
    CHECK_FALSE(tx.remember_slack_request("a", t + 1min, t));
    // Past its expiry it is swept by the next insert and may be stored again.
    CHECK(tx.remember_slack_request("b", t + 10min, t + 2min));
    CHECK(tx.remember_slack_request("a", t + 10min, t + 2min));
  });
}
