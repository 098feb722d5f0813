// Must show 2 of the notifications issue, against real receivers on loopback: a receiver
// answering 500, 500, then 200 gets three attempts with the same webhook-id spaced by the
// backoff; one answering 410 disables its endpoint (nothing more is sent to it, and the API says
// so until an admin enables it); one that hangs is cut at the timeout and retried. Also
// Retry-After, a redelivery (same webhook-id) and a test event through the API.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <iostream>

#include "broker/notify/webhook/signing.hpp"
#include "common/secrets.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/webhook_receiver.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

std::chrono::milliseconds gap(const received_webhook& a, const received_webhook& b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b.at - a.at);
}

std::string webhook(const webhook_receiver& r, const std::string& name, const std::string& secret,
                    const std::string& events) {
  return "    - name: " + name + "\n      url: " + r.url("/" + name) + "\n      secrets: [" +
         secret + "]\n      events: " + events + "\n";
}

// The oldest delivery of `type` to `endpoint` (the list is newest first).
json::value delivery_of(broker_fixture& b, const std::string& endpoint, const std::string& type) {
  auto list = b.call("admin", "GET", "/api/v1/notifications/deliveries?endpoint=" + endpoint);
  REQUIRE(list.status == 200);
  const auto& a = list.json.as_array();
  for (auto it = a.rbegin(); it != a.rend(); ++it)
    if (it->at("type") == type.c_str()) return *it;
  FAIL("no " << type << " delivery to " << endpoint << ": " << list.body);
  return nullptr;
}

}  // namespace

TEST_CASE("retries with one webhook-id, 410 disables, a hang is cut at the timeout") {
  const auto secret = apono::broker::notify::generate_secret();
  webhook_receiver receiver({secret},
                            json::object{{"/flaky", json::array{"500", "500", "200"}},
                                         {"/gone", json::array{"410", "200"}},
                                         {"/hang", json::array{"hang", "200"}},
                                         {"/later", json::array{"503;retry-after=3", "200"}}});
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  temp_dir dir("webhook-retries");
  const auto extra = dir.path / "extra.yaml";
  // No jitter, so the spacing is the backoff itself: 1 s, then 2 s.
  apono::common::write_private_file(
      extra,
      "notifications:\n  timeout: 2s\n  retry: {initial: 1s, max: 4s, jitter: false}\n"
      "  webhooks:\n" +
          webhook(receiver, "flaky", secret, "[request.created]") +
          webhook(receiver, "gone", secret, "[\"request.*\"]") +
          webhook(receiver, "hang", secret, "[request.created]") +
          webhook(receiver, "later", secret, "[request.created]"));
  broker_fixture b(pg, {"--dev-extra", extra.string()});
  log_on_failure show_log([&] { return b.log(); });

  auto created = create_request(b, "alice", "appdb", "read_only", "1h");
  REQUIRE(created.status == 201);
  const std::string id(created.json.at("id").as_string());
  REQUIRE(wait_until([&] { return request_status(b, "alice", id) == "ACTIVE"; }, 30s));

  // 500, 500, 200: three attempts, one webhook-id, each signed afresh, spaced 1 s then 2 s.
  receiver.wait_for("three attempts on /flaky", [](const auto& got) {
    return std::count_if(got.begin(), got.end(),
                         [](const auto& r) { return r.path == "/flaky"; }) >= 3;
  });
  auto flaky = receiver.received("/flaky");
  REQUIRE(flaky.size() == 3);
  CHECK(flaky[0].id == flaky[1].id);
  CHECK(flaky[1].id == flaky[2].id);
  CHECK(flaky[0].body == flaky[2].body);
  for (const auto& r : flaky) CHECK(r.verified == std::vector<bool>{true});
  CHECK((flaky[0].answer == 500 && flaky[1].answer == 500 && flaky[2].answer == 200));
  std::cout << "/flaky attempts spaced " << gap(flaky[0], flaky[1]).count() << " ms, "
            << gap(flaky[1], flaky[2]).count() << " ms (backoff 1 s, 2 s)\n";
  CHECK(gap(flaky[0], flaky[1]) >= 950ms);
  CHECK(gap(flaky[0], flaky[1]) <= 2000ms);
  CHECK(gap(flaky[1], flaky[2]) >= 1950ms);
  CHECK(gap(flaky[1], flaky[2]) <= 3000ms);
  auto d = delivery_of(b, "flaky", "request.created");
  CHECK(d.at("status") == "delivered");
  CHECK(d.at("attempts") == 3);
  CHECK(d.at("webhook_id") == flaky[0].id.c_str());

  // Retry-After: 3 s asked, longer than the 1-s backoff: honoured.
  receiver.wait_for("two attempts on /later", [](const auto& got) {
    return std::count_if(got.begin(), got.end(),
                         [](const auto& r) { return r.path == "/later"; }) >= 2;
  });
  auto later = receiver.received("/later");
  std::cout << "/later: Retry-After 3 -> next attempt after " << gap(later[0], later[1]).count()
            << " ms\n";
  CHECK(gap(later[0], later[1]) >= 2950ms);
  CHECK(gap(later[0], later[1]) <= 4500ms);

  // The hang: cut at the 2-s timeout, retried 1 s later, delivered.
  receiver.wait_for("a second attempt on /hang", [](const auto& got) {
    return std::count_if(got.begin(), got.end(), [](const auto& r) { return r.path == "/hang"; }) >=
           2;
  });
  auto hang = receiver.received("/hang");
  CHECK(hang[0].answer == -1);
  CHECK(hang[0].id == hang[1].id);
  std::cout << "/hang: second attempt " << gap(hang[0], hang[1]).count()
            << " ms after the first (timeout 2 s + backoff 1 s)\n";
  // The first attempt reached the receiver a little after it started: a little under 3 s.
  CHECK(gap(hang[0], hang[1]) >= 2800ms);
  CHECK(gap(hang[0], hang[1]) <= 4500ms);
  REQUIRE(wait_until(
      [&] { return delivery_of(b, "hang", "request.created").at("status") == "delivered"; }, 10s));
  d = delivery_of(b, "hang", "request.created");
  CHECK(d.at("attempts") == 2);

  // 410: one attempt, the endpoint disabled, nothing more for it (the request went on to
  // approved and active meanwhile).
  auto gone = receiver.received("/gone");
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].type == "request.created");
  CHECK(gone[0].answer == 410);
  auto endpoints = b.call("admin", "GET", "/api/v1/notifications/endpoints");
  REQUIRE(endpoints.status == 200);
  json::value gone_state;
  for (const auto& e : endpoints.json.as_array())
    if (e.at("name") == "gone") gone_state = e;
  REQUIRE(gone_state.is_object());
  CHECK(gone_state.at("disabled") == true);
  CHECK(gone_state.at("disabled_at").is_string());
  CHECK(std::string(gone_state.at("disabled_reason").as_string())
            .starts_with("the receiver answered 410 Gone to msg_"));
  d = delivery_of(b, "gone", "request.created");
  CHECK(d.at("status") == "dead");
  CHECK(d.at("last_http_status") == 410);
  auto metrics = b.call("", "GET", "/metrics");
  CHECK(metrics.body.find("apono_notification_endpoints_disabled 1") != std::string::npos);
  CHECK(metrics.body.find(
            "apono_notification_deliveries_total{channel=\"webhook\",outcome=\"dead\"} 1") !=
        std::string::npos);
  CHECK(metrics.body.find(
            "apono_notification_deliveries_total{channel=\"webhook\",outcome=\"retried\"} 4") !=
        std::string::npos);
  // A test or a redelivery to it is refused until an admin enables it.
  CHECK(b.call("admin", "POST", "/api/v1/notifications/endpoints/gone/test").status == 409);
  auto revoked = b.call("alice", "POST", "/api/v1/access-requests/" + id + "/revoke");
  REQUIRE(revoked.status == 200);
  REQUIRE(wait_until([&] { return request_status(b, "alice", id) == "REVOKED"; }, 30s));
  CHECK(receiver.received("/gone").size() == 1);

  // Enabled again: events from then on reach it.
  auto enabled = b.call("admin", "POST", "/api/v1/notifications/endpoints/gone/enable");
  REQUIRE(enabled.status == 200);
  CHECK(enabled.json.at("disabled") == false);
  auto second = create_request(b, "bob", "appdb", "read_only", "1h");
  REQUIRE(second.status == 201);
  receiver.wait_for("/gone's next event", [](const auto& got) {
    return std::count_if(got.begin(), got.end(), [](const auto& r) { return r.path == "/gone"; }) >=
           2;
  });
  CHECK(receiver.received("/gone")[1].json.at("data").at("request_id") == second.json.at("id"));

  // A redelivery goes out now with the same webhook-id; a test event goes to the endpoint named.
  const auto flaky_delivery = delivery_of(b, "flaky", "request.created");
  REQUIRE(flaky_delivery.at("webhook_id") == flaky[0].id.c_str());
  auto again = b.call("admin", "POST",
                      "/api/v1/notifications/deliveries/" +
                          std::to_string(flaky_delivery.at("id").as_int64()) + "/redeliver");
  REQUIRE(again.status == 200);
  CHECK(again.json.at("status") == "pending");
  auto test = b.call("admin", "POST", "/api/v1/notifications/endpoints/flaky/test");
  REQUIRE(test.status == 202);
  CHECK(test.json.at("type") == "notification.test");
  const auto first_id = flaky[0].id;
  receiver.wait_for("a redelivery and a test event on /flaky", [&](const auto& got) {
    auto sent = std::count_if(got.begin(), got.end(), [&](const auto& r) {
      return r.path == "/flaky" && r.id == first_id;
    });
    auto tests = std::count_if(got.begin(), got.end(), [](const auto& r) {
      return r.path == "/flaky" && r.type == "notification.test";
    });
    return sent == 4 && tests == 1;
  });
  // Non-admins may not look or act.
  CHECK(b.call("alice", "POST", "/api/v1/notifications/endpoints/flaky/test").status == 403);
  CHECK(b.call("approver", "GET", "/api/v1/notifications/endpoints").status == 403);
  // The log tells what happened without the URL's path or the secret.
  const auto log = b.log();
  CHECK(log.find("endpoint gone answered 410 Gone") != std::string::npos);
  CHECK(log.find(secret.substr(6)) == std::string::npos);
}
