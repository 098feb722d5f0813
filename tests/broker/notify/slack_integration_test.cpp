// The Slack channel end to end: a real aponod and PostgreSQL target, the Slack stand-in as
// Slack. Must show 2 of the Slack issue (its delivery half): each approver of a manual flow
// gets a direct message with Approve and Reject; after a decision through the API every copy
// shows the outcome and who decided, without buttons; the requester's thread says so within
// a second of the decision's audit event, and the requester's message shows the buttons that
// fit (Access details and Revoke while Active, Request again after a rejection). Must show 5:
// Slack answering 500, then 429 with Retry-After, then ok:false for a while: every message
// arrives after it recovers, none twice; `not_in_channel` and `users_not_found` end their
// delivery with the error shown to the admin. And /readyz shows auth.test's answer, or the
// error of a bad token.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <map>
#include <set>

#include "common/secrets.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/slack_fixture.hpp"
#include "tests/support/webhook_receiver.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

std::string id_of(const api_answer& a) {
  return std::string(a.json.at("id").as_string());
}

// A manual flow for admin's requests with two approvers, beside the dev flows.
const std::string admins_flow =
    "access_flows:\n"
    "  - name: admins-write\n"
    "    requestors: {users: [admin]}\n"
    "    targets:\n"
    "      - {integration: pg-local, resources: [\"*\"], permissions: [read_write]}\n"
    "    approval: manual\n"
    "    approvers: {users: [approver, bob]}\n"
    "    max_duration: 4h\n"
    "    default_duration: 1h\n"
    "    justification_required: true\n";

struct rig {
  explicit rig(const std::string& notifications_extra = {}, const std::string& token = {}) {
    pg.psql("CREATE DATABASE appdb");
    for (const char* u : {"admin", "approver", "bob"})
      ids[u] = slack.add_user(u, std::string(u) + "@example.com");
    auto yaml = slack.config_yaml(2);
    if (!token.empty()) {
      const auto at = yaml.find(slack.bot_token());
      yaml.replace(at, slack.bot_token().size(), token);
    }
    apono::common::write_private_file(
        dir.path / "extra.yaml",
        admins_flow +
            "notifications:\n  timeout: 5s\n  retry: {initial: 1s, max: 2s, jitter: "
            "false}\n  portal_url: https://apono.example.test\n" +
            notifications_extra + yaml);
    b = std::make_unique<broker_fixture>(
        pg, std::vector<std::string>{"--dev-extra", (dir.path / "extra.yaml").string()});
    slack.set_aponod_ca(b->ca_file());
  }

  slack_fixture slack;
  pg_fixture pg;
  temp_dir dir{"slack-test"};
  std::map<std::string, std::string> ids;
  std::unique_ptr<broker_fixture> b;
};

bool contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

// Every action_id of every button in `m`.
std::set<std::string> buttons_of(const slack_message& m) {
  std::set<std::string> out;
  for (const auto& b : m.blocks)
    if (const auto* els = b.as_object().if_contains("elements"); els && els->is_array())
      for (const auto& e : els->as_array())
        if (e.as_object().contains("action_id") && e.at("type") == "button") {
          out.insert(std::string(e.at("action_id").as_string()));
          CHECK(e.at("value").as_string().size() > 3);
        }
  return out;
}

std::string all_text(const slack_message& m) {
  return m.text + json::serialize(m.blocks);
}

// The top-level messages in `user`'s DM about request `id`.
std::vector<slack_message> parents(const slack_fixture& s, const std::string& user,
                                   const std::string& id) {
  std::vector<slack_message> out;
  for (auto& m : s.messages(user))
    if (m.thread_ts.empty() && contains(all_text(m), id)) out.push_back(std::move(m));
  return out;
}

std::vector<slack_message> thread(const slack_fixture& s, const std::string& user,
                                  const std::string& parent_ts) {
  std::vector<slack_message> out;
  for (auto& m : s.messages(user))
    if (m.thread_ts == parent_ts) out.push_back(std::move(m));
  return out;
}

// Whether button `action` shows on `m` with value `id`.
bool has_button(const slack_message& m, const std::string& action, const std::string& id) {
  for (const auto& b : m.blocks)
    if (const auto* els = b.as_object().if_contains("elements"); els && els->is_array())
      for (const auto& e : els->as_array())
        if (e.at("type") == "button" && e.at("action_id") == json::value(action) &&
            e.at("value") == json::value(id))
          return true;
  return false;
}

// Nothing was posted twice: no two messages in a conversation read the same.
void check_no_duplicates(const slack_fixture& s, const std::string& user) {
  std::set<std::string> seen;
  for (const auto& m : s.messages(user)) {
    INFO("a message posted twice to " << user << ": " << m.text);
    CHECK(seen.insert(m.thread_ts + "|" + json::serialize(m.blocks)).second);
  }
}

std::string dump(const slack_fixture& s) {
  std::string out;
  for (const auto& c : s.calls())
    out += c.method + " " + std::to_string(c.http_status) + " " + c.error + " " +
           json::serialize(c.args).substr(0, 300) + "\n";
  return out;
}

}  // namespace

TEST_CASE("approvers decide from their DMs' copies; every copy and the requester's thread follow",
          "[slack]") {
  rig r;
  auto& b = *r.b;
  auto& slack = r.slack;
  log_on_failure show_log([&] { return b.log() + "\n--- Slack calls:\n" + dump(slack); });

  const std::string justification = "INC-7 <!channel> & friends";
  auto created = create_request(b, "admin", "appdb", "read_write", "1h", justification);
  REQUIRE(created.status == 201);
  const auto id = id_of(created);

  // Each approver: one DM with the request's facts and Approve / Reject.
  REQUIRE(slack.wait_until(
      [&] {
        return parents(slack, r.ids["approver"], id).size() == 1 &&
               parents(slack, r.ids["bob"], id).size() == 1 &&
               parents(slack, r.ids["admin"], id).size() == 1;
      },
      20s));
  for (const char* who : {"approver", "bob"}) {
    INFO(who);
    const auto m = parents(slack, r.ids[who], id)[0];
    CHECK(buttons_of(m) == std::set<std::string>{"apono_approve", "apono_reject"});
    CHECK(has_button(m, "apono_approve", id));
    CHECK(has_button(m, "apono_reject", id));
    const auto text = all_text(m);
    for (const char* fact : {"admin", "pg-local", "appdb", "read_write", "1h", "admins-write"})
      CHECK(contains(text, fact));
    // The justification as typed, escaped: no @channel mention, no forged markup.
    CHECK(contains(text, "INC-7 &lt;!channel&gt; &amp; friends"));
    CHECK_FALSE(contains(text, "<!channel>"));
    CHECK(contains(text, "apono approve " + id));
  }
  // The requester's message: waiting for approval, no buttons yet.
  const auto parent = parents(slack, r.ids["admin"], id)[0];
  CHECK(contains(all_text(parent), "Waiting for approval"));
  CHECK(buttons_of(parent).empty());

  // The decision, through the API.
  REQUIRE(b.call("approver", "POST", "/api/v1/access-requests/" + id + "/approve").status == 200);
  const auto decided_at = status_changed_at(b, id, "GRANTING");
  REQUIRE(slack.wait_until(
      [&] {
        for (const char* who : {"approver", "bob"}) {
          const auto m = parents(slack, r.ids[who], id);
          if (m.size() != 1 || m[0].updates == 0) return false;
        }
        return !thread(slack, r.ids["admin"], parent.ts).empty();
      },
      20s));
  for (const char* who : {"approver", "bob"}) {
    INFO(who);
    const auto m = parents(slack, r.ids[who], id)[0];
    CHECK(buttons_of(m).empty());
    CHECK(contains(all_text(m), "Approved"));
    CHECK(contains(all_text(m), "by *approver*"));
  }
  // The requester's thread says so within a second of the decision's audit event.
  const auto replies = slack.calls("chat.postMessage");
  std::optional<apono::common::time_point> reply_at;
  for (const auto& c : replies)
    if (c.args.contains("thread_ts") && c.args.at("thread_ts") == json::value(parent.ts) &&
        c.http_status == 200) {
      reply_at = c.at;
      break;
    }
  REQUIRE(reply_at);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(*reply_at - decided_at);
  std::printf("requester's thread told %lld ms after the approval's audit event\n",
              static_cast<long long>(took.count()));
  CHECK(took < 1s);
  CHECK(contains(all_text(thread(slack, r.ids["admin"], parent.ts)[0]), "Approved"));

  // Active: the thread says so, and the requester's message offers Access details and Revoke.
  REQUIRE(slack.wait_until(
      [&] {
        auto p = parents(slack, r.ids["admin"], id);
        return p.size() == 1 && has_button(p[0], "apono_details", id) &&
               has_button(p[0], "apono_revoke", id);
      },
      30s));
  {
    const auto p = parents(slack, r.ids["admin"], id)[0];
    CHECK(contains(all_text(p), "Active"));
    const auto t = thread(slack, r.ids["admin"], parent.ts);
    REQUIRE(t.size() == 2);
    CHECK(contains(all_text(t[1]), "active until"));
    CHECK(contains(all_text(t[1]), "apono access connect " + id));
  }

  // A rejection with a reason: every copy shows it and who, the requester sees it and may
  // request again.
  auto second = create_request(b, "admin", "appdb", "read_write", "2h", "INC-8");
  REQUIRE(second.status == 201);
  const auto rejected = id_of(second);
  REQUIRE(slack.wait_until(
      [&] {
        return parents(slack, r.ids["bob"], rejected).size() == 1 &&
               parents(slack, r.ids["approver"], rejected).size() == 1 &&
               parents(slack, r.ids["admin"], rejected).size() == 1;
      },
      20s));
  REQUIRE(b.call("bob", "POST", "/api/v1/access-requests/" + rejected + "/reject",
                 R"({"reason": "not during the freeze"})")
              .status == 200);
  REQUIRE(slack.wait_until(
      [&] {
        auto p = parents(slack, r.ids["admin"], rejected);
        auto a = parents(slack, r.ids["approver"], rejected);
        return p.size() == 1 && has_button(p[0], "apono_request_again", rejected) &&
               a.size() == 1 && a[0].updates > 0;
      },
      20s));
  for (const char* who : {"approver", "bob"}) {
    INFO(who);
    const auto m = parents(slack, r.ids[who], rejected)[0];
    CHECK(buttons_of(m).empty());
    CHECK(contains(all_text(m), "Rejected"));
    CHECK(contains(all_text(m), "by *bob*"));
    CHECK(contains(all_text(m), "not during the freeze"));
  }
  {
    const auto p = parents(slack, r.ids["admin"], rejected)[0];
    const auto t = thread(slack, r.ids["admin"], p.ts);
    REQUIRE(t.size() == 1);
    CHECK(contains(all_text(t[0]), "not during the freeze"));
    CHECK(contains(all_text(t[0]), "bob"));
  }
  for (const char* who : {"approver", "bob", "admin"}) check_no_duplicates(slack, r.ids[who]);
  // Every call Slack got was within its limits and authenticated.
  for (const auto& c : slack.calls()) {
    INFO(c.method << " " << c.error);
    CHECK(c.http_status == 200);
    CHECK(c.error.empty());
  }
}

TEST_CASE(
    "a failing Slack: every message arrives after it recovers, none twice; permanent "
    "errors are shown to the admin",
    "[slack]") {
  rig r;
  auto& b = *r.b;
  auto& slack = r.slack;
  log_on_failure show_log([&] { return b.log() + "\n--- Slack calls:\n" + dump(slack); });
  // Let aponod's start (auth.test) pass first.
  REQUIRE(slack.wait_until([&] { return !slack.calls("auth.test").empty(); }, 20s));

  // 500s, then 429s with Retry-After, then ok:false errors of Slack's own trouble.
  slack.fail({"", 3, 500, ""});
  slack.fail({"", 3, 429, "", 1s});
  slack.fail({"", 4, 200, "service_unavailable"});
  auto created = create_request(b, "admin", "appdb", "read_write", "1h", "INC-9");
  REQUIRE(created.status == 201);
  const auto id = id_of(created);
  REQUIRE(slack.wait_until(
      [&] {
        return parents(slack, r.ids["approver"], id).size() == 1 &&
               parents(slack, r.ids["bob"], id).size() == 1 &&
               parents(slack, r.ids["admin"], id).size() == 1;
      },
      60s));
  REQUIRE(b.call("approver", "POST", "/api/v1/access-requests/" + id + "/approve").status == 200);
  REQUIRE(slack.wait_until(
      [&] {
        auto p = parents(slack, r.ids["admin"], id);
        return p.size() == 1 && has_button(p[0], "apono_revoke", id) &&
               parents(slack, r.ids["bob"], id)[0].updates > 0 &&
               parents(slack, r.ids["approver"], id)[0].updates > 0;
      },
      60s));
  // Slack did fail: 500s, 429s and ok:false were answered.
  std::map<int, int> statuses;
  int unavailable = 0;
  for (const auto& c : slack.calls()) {
    ++statuses[c.http_status];
    unavailable += c.error == "service_unavailable";
  }
  CHECK(statuses[500] == 3);
  CHECK(statuses[429] == 3);
  CHECK(unavailable == 4);
  // Everything delivered, some after several attempts, and nothing posted twice.
  REQUIRE(wait_until(
      [&] {
        auto p = b.call("admin", "GET", "/api/v1/notifications/deliveries?status=pending");
        return p.status == 200 && p.json.as_array().empty();
      },
      30s));
  auto all = b.call("admin", "GET", "/api/v1/notifications/deliveries?endpoint=slack&limit=500");
  REQUIRE(all.status == 200);
  int retried = 0;
  for (const auto& d : all.json.as_array()) {
    INFO(json::serialize(d));
    CHECK(d.at("status") == "delivered");
    retried += d.at("attempts").to_number<int>() > 1;
  }
  CHECK(retried > 0);
  for (const char* who : {"approver", "bob", "admin"}) {
    CHECK(parents(slack, r.ids[who], id).size() == 1);
    check_no_duplicates(slack, r.ids[who]);
  }
  {
    const auto p = parents(slack, r.ids["admin"], id)[0];
    const auto t = thread(slack, r.ids["admin"], p.ts);
    REQUIRE(t.size() == 2);  // approved, active: once each
  }

  // Slack refusing for good: the delivery ends at once, the error shown to the admin.
  slack.fail({"chat.postMessage", 1, 200, "not_in_channel"});
  auto third = create_request(b, "admin", "appdb", "read_write", "1h", "INC-10");
  REQUIRE(third.status == 201);
  // alice has no Slack account in this workspace: users_not_found.
  auto alices = create_request(b, "alice", "appdb", "read_write", "1h", "INC-11");
  REQUIRE(alices.status == 201);
  auto dead_with = [&](const std::string& endpoint, const std::string& error) {
    auto d =
        b.call("admin", "GET", "/api/v1/notifications/deliveries?status=dead&endpoint=" + endpoint);
    if (d.status != 200) return false;
    for (const auto& x : d.json.as_array())
      if (contains(std::string(x.at("last_error").as_string()), error) && x.at("attempts") == 1)
        return true;
    return false;
  };
  CHECK(wait_until([&] { return dead_with("slack", "not_in_channel"); }, 20s));
  CHECK(wait_until([&] { return dead_with("slack:alice", "users_not_found"); }, 20s));
  // The admin's CLI view of the same.
  auto listed = b.call("admin", "GET", "/api/v1/notifications/deliveries?endpoint=slack:alice");
  REQUIRE(listed.status == 200);
  REQUIRE_FALSE(listed.json.as_array().empty());
  CHECK(contains(std::string(listed.json.as_array()[0].at("last_error").as_string()),
                 "users_not_found: no Slack user has the email of alice"));
}

TEST_CASE("/readyz shows Slack's auth.test, and a bad token's error", "[slack]") {
  // /readyz's Slack details once auth.test has been answered (it runs beside the start).
  auto slack_state = [](broker_fixture& b) {
    json::value state;
    REQUIRE(wait_until(
        [&] {
          auto a = b.call("", "GET", "/readyz");
          if (a.status != 200 || !a.json.as_object().contains("details")) return false;
          state = a.json.at("details").at("slack");
          return true;
        },
        20s));
    return state;
  };
  SECTION("a good token") {
    rig r;
    const auto state = slack_state(*r.b);
    CHECK(state.at("ok") == true);
    CHECK(state.at("team") == "Apono Test");
    CHECK(state.at("bot_user") == "apono");
  }
  SECTION("a bad token: the error, and the broker still ready") {
    rig r({}, "xoxb-this-is-not-the-token");
    const auto state = slack_state(*r.b);
    CHECK(state.at("ok") == false);
    CHECK(state.at("error") == "invalid_auth");
    CHECK_FALSE(contains(r.b->log(), "xoxb-this-is-not-the-token"));
    CHECK_FALSE(contains(r.b->log(), r.slack.bot_token()));
  }
}
