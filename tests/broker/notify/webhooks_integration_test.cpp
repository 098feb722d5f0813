// Must show 1 of the notifications issue: a real receiver on loopback that verifies every
// delivery with the `standardwebhooks` npm package (a verifier nobody here wrote) sees each
// event of a request's life, in order, with a valid signature; with two secrets configured (a
// rotation) each secret alone verifies every delivery. Also: the audit-log webhook, the
// deliveries API and /metrics after the run, and the delay from a transition to its webhook.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <iostream>
#include <map>
#include <set>

#include "broker/notify/webhook/signing.hpp"
#include "common/secrets.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/webhook_receiver.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;
using strings = std::vector<std::string>;

namespace {

std::string id_of(const api_answer& a) {
  return std::string(a.json.at("id").as_string());
}

// The received events of request `id` on `path`, once per webhook-id (a receiver deduplicates),
// in arrival order.
strings types_for(const std::vector<received_webhook>& got, const std::string& path,
                  const std::string& id) {
  strings out, ids;
  for (const auto& r : got) {
    if (r.path != path || !r.json.is_object()) continue;
    const auto& data = r.json.at("data").as_object();
    auto rid = data.if_contains("request_id");
    if (!rid || !rid->is_string() || rid->as_string() != id.c_str()) continue;
    if (std::find(ids.begin(), ids.end(), r.id) != ids.end()) continue;
    ids.push_back(r.id);
    out.push_back(r.type);
  }
  return out;
}

const received_webhook* find(const std::vector<received_webhook>& got, const std::string& path,
                             const std::string& id, const std::string& type) {
  for (const auto& r : got)
    if (r.path == path && r.type == type && r.json.is_object() &&
        r.json.at("data").at("request_id") == id.c_str())
      return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("a request's whole life reaches a standardwebhooks verifier, in order, signed twice") {
  const auto old_secret = apono::broker::notify::generate_secret();
  const auto new_secret = apono::broker::notify::generate_secret();
  webhook_receiver receiver({old_secret, new_secret}, json::object{});
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  temp_dir dir("webhooks-test");
  const auto extra = dir.path / "extra.yaml";
  apono::common::write_private_file(extra,
                                    "notifications:\n"
                                    "  timeout: 5s\n"
                                    "  retry: {initial: 1s, max: 2s, jitter: false}\n"
                                    "  webhooks:\n"
                                    "    - name: requests\n"
                                    "      url: " +
                                        receiver.url("/requests") +
                                        "\n"
                                        "      secrets: [" +
                                        old_secret + ", " + new_secret +
                                        "]\n"
                                        "      events: [\"request.*\"]\n"
                                        "    - name: siem\n"
                                        "      url: " +
                                        receiver.url("/siem") +
                                        "\n"
                                        "      secrets: [" +
                                        new_secret +
                                        "]\n"
                                        "      events: [\"audit.*\"]\n");
  broker_fixture b(pg, {"--dev-extra", extra.string()});
  log_on_failure show_log([&] { return b.log(); });

  // 1: manual flow, approved, granted, revoked by the requester.
  auto created = create_request(b, "alice", "appdb", "read_write", "1h");
  REQUIRE(created.status == 201);
  const auto manual = id_of(created);
  receiver.wait_for("request.pending_approval of " + manual, [&](const auto& got) {
    return find(got, "/requests", manual, "request.pending_approval") != nullptr;
  });
  auto approved = b.call("approver", "POST", "/api/v1/access-requests/" + manual + "/approve");
  REQUIRE(approved.status == 200);
  const auto approved_at = std::chrono::system_clock::now();
  REQUIRE(wait_until([&] { return request_status(b, "alice", manual) == "ACTIVE"; }, 30s));
  auto revoked = b.call("alice", "POST", "/api/v1/access-requests/" + manual + "/revoke",
                        R"({"reason":"done with INC-7"})");
  REQUIRE(revoked.status == 200);
  // 2: automatic flow, granted and expiring on its own.
  auto short_one = create_request(b, "alice", "appdb", "read_only", "3s");
  REQUIRE(short_one.status == 201);
  const auto automatic = id_of(short_one);
  // 3: rejected with a reason.
  auto to_reject = create_request(b, "bob", "appdb", "admin", "1h");
  REQUIRE(to_reject.status == 201);
  const auto rejected = id_of(to_reject);
  REQUIRE(b.call("approver", "POST", "/api/v1/access-requests/" + rejected + "/reject",
                 R"({"reason":"not during the freeze"})")
              .status == 200);

  const std::map<std::string, strings> expected{
      {manual,
       {"request.created", "request.pending_approval", "request.approved", "request.active",
        "request.revoked"}},
      {automatic, {"request.created", "request.approved", "request.active", "request.expired"}},
      {rejected, {"request.created", "request.pending_approval", "request.rejected"}}};
  auto got = receiver.wait_for(
      "every request event",
      [&](const auto& seen) {
        for (const auto& [id, types] : expected)
          if (types_for(seen, "/requests", id).size() < types.size()) return false;
        return true;
      },
      60s);
  for (const auto& [id, types] : expected) {
    INFO(id << ": received\n" << receiver.describe());
    CHECK(types_for(got, "/requests", id) == types);
  }

  // Nothing failed and nothing was killed: each webhook-id came exactly once.
  std::set<std::string> ids;
  for (const auto& r : got) CHECK(ids.insert(r.id).second);

  // Every delivery: POSTed JSON, both signatures there, and each secret alone verifies it.
  for (const auto& r : got) {
    INFO(r.path << " " << r.id << " " << r.type);
    CHECK(r.content_type == "application/json");
    CHECK(r.answer == 200);
    CHECK(r.id.starts_with("msg_"));
    CHECK(std::llabs(
              r.timestamp -
              std::chrono::duration_cast<std::chrono::seconds>(r.at.time_since_epoch()).count()) <=
          5);
    if (r.path == "/requests") {
      CHECK(r.signatures == 2);
      CHECK(r.verified == std::vector<bool>{true, true});
    } else {
      CHECK(r.signatures == 1);
      CHECK(r.verified == std::vector<bool>{false, true});  // signed with the new secret only
    }
    REQUIRE(r.json.is_object());
    CHECK(r.json.at("version") == 1);
    CHECK(r.json.at("type") == r.type.c_str());
    CHECK(apono::common::parse_rfc3339(r.json.at("timestamp").as_string()));
  }

  // What each event says.
  const auto* pending = find(got, "/requests", manual, "request.pending_approval");
  REQUIRE(pending);
  CHECK(pending->json.at("data").at("approvers") == json::array{"approver"});
  CHECK(pending->json.at("data").at("status") == "PENDING");
  CHECK(pending->json.at("data").at("commands").at("approve") ==
        ("apono approve " + manual).c_str());
  const auto* active = find(got, "/requests", manual, "request.active");
  REQUIRE(active);
  CHECK(active->json.at("data").at("commands").at("connect") ==
        ("apono access connect " + manual).c_str());
  CHECK(active->json.at("data").at("ends_at").is_string());
  const auto* revoke = find(got, "/requests", manual, "request.revoked");
  REQUIRE(revoke);
  CHECK(revoke->json.at("data").at("actor") == "alice");
  CHECK(revoke->json.at("data").at("reason") == "done with INC-7");
  const auto* reject = find(got, "/requests", rejected, "request.rejected");
  REQUIRE(reject);
  CHECK(reject->json.at("data").at("actor") == "approver");
  CHECK(reject->json.at("data").at("reason") == "not during the freeze");
  const auto* auto_approved = find(got, "/requests", automatic, "request.approved");
  REQUIRE(auto_approved);
  CHECK(auto_approved->json.at("data").at("approval") == "automatic");
  CHECK(auto_approved->json.at("data").at("actor") == "automatic");
  CHECK(find(got, "/requests", automatic, "request.created")->json.at("data").at("actor") ==
        "alice");
  // Nothing the broker holds secret: no password of the grant, no token.
  for (const auto& r : got) CHECK(r.body.find("password") == std::string::npos);

  // The transition to its webhook: within a second.
  const auto* approval = find(got, "/requests", manual, "request.approved");
  REQUIRE(approval);
  const auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(
      approval->at.time_since_epoch() -
      std::chrono::duration_cast<std::chrono::milliseconds>(approved_at.time_since_epoch()));
  std::cout << "approval answered -> request.approved received: " << delay.count() << " ms\n";
  CHECK(delay < 1000ms);

  // The audit-log webhook: every audit event of each request, in the audit trail's order.
  auto audit = b.call("admin", "GET", "/api/v1/audit?request=" + manual + "&limit=1000");
  REQUIRE(audit.status == 200);
  strings actions;
  for (const auto& e : audit.json.as_array())
    actions.push_back("audit." + std::string(e.at("action").as_string()));
  got = receiver.wait_for("the audit stream of " + manual, [&](const auto& seen) {
    return types_for(seen, "/siem", manual).size() >= actions.size();
  });
  CHECK(types_for(got, "/siem", manual) == actions);

  // The deliveries as admins see them, and the counters.
  auto list =
      b.call("admin", "GET", "/api/v1/notifications/deliveries?endpoint=requests&limit=500");
  REQUIRE(list.status == 200);
  std::size_t request_events = 0;
  for (const auto& [id, types] : expected) request_events += types.size();
  CHECK(list.json.as_array().size() == request_events);
  for (const auto& d : list.json.as_array()) {
    CHECK(d.at("status") == "delivered");
    CHECK(d.at("attempts") == 1);
    CHECK(d.at("last_http_status") == 200);
  }
  // The audit stream goes on a little (the short grant's removal): wait for it to drain.
  std::string metrics;
  CHECK(wait_until(
      [&] {
        metrics = b.call("", "GET", "/metrics").body;
        return metrics.find("apono_notification_deliveries_pending 0\n") != std::string::npos;
      },
      30s));
  INFO(metrics);
  CHECK(metrics.find("apono_notification_deliveries_total{channel=\"webhook\",outcome="
                     "\"delivered\"} ") != std::string::npos);
  CHECK(metrics.find("apono_notification_oldest_pending_seconds 0\n") != std::string::npos);
  CHECK(b.call("alice", "GET", "/api/v1/notifications/deliveries").status == 403);
  // Secrets never reach the log.
  const auto log = b.log();
  CHECK(log.find(old_secret.substr(6)) == std::string::npos);
  CHECK(log.find(new_secret.substr(6)) == std::string::npos);
}
