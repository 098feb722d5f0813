// Notifications from three aponod replicas on one PostgreSQL store, as behind a load balancer:
// requests moved through all three, each event delivered once (one replica fans out at a time,
// each delivery is claimed by one), every request's events in order; then two replicas killed
// with SIGKILL while the receiver is slow, and the one left delivers what they held.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

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

// Each request's event types, once per webhook-id, in arrival order; `repeats` counts the rest.
std::map<std::string, strings> by_request(const std::vector<received_webhook>& got,
                                          std::size_t* repeats = nullptr) {
  std::map<std::string, strings> out;
  std::set<std::string> ids;
  for (const auto& w : got) {
    if (!ids.insert(w.id).second) {
      if (repeats) ++*repeats;
      continue;
    }
    out[std::string(w.json.at("data").at("request_id").as_string())].push_back(w.type);
  }
  return out;
}

}  // namespace

TEST_CASE("replicas: each event once, in order per request, and a dead replica's taken over") {
  const auto secret = apono::broker::notify::generate_secret();
  // 300 ms per answer: a replica killed in the middle of one leaves it claimed and pending.
  webhook_receiver receiver({secret}, json::object{{"/all", json::array{"200;delay=300"}}});
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  pg.psql("CREATE DATABASE apono_store");
  temp_dir dir("webhook-replicas");
  const auto extra = dir.path / "extra.yaml";
  apono::common::write_private_file(
      extra,
      "notifications:\n  timeout: 5s\n  retry: {initial: 1s, max: 2s, jitter: false}\n"
      "  webhooks:\n    - name: all\n      url: " +
          receiver.url("/all") + "\n      secrets: [" + secret +
          "]\n      events: [\"request.*\"]\n");
  const std::vector<std::string> args{"--store", pg.admin_url("apono_store"), "--dev-extra",
                                      extra.string()};
  std::vector<std::unique_ptr<broker_fixture>> r;
  r.push_back(std::make_unique<broker_fixture>(pg, args));
  for (int i = 1; i < 3; ++i) r.push_back(std::make_unique<broker_fixture>(pg, args, *r.front()));
  log_on_failure show_log([&] { return r[0]->log() + r[1]->log() + r[2]->log(); });

  // Six requests, each made on one replica and decided on another.
  std::map<std::string, strings> expected;
  for (int i = 0; i < 6; ++i) {
    auto& maker = *r[static_cast<std::size_t>(i) % 3];
    auto& decider = *r[static_cast<std::size_t>(i + 1) % 3];
    auto created = create_request(maker, "alice", "appdb", "read_write", "1h");
    REQUIRE(created.status == 201);
    const std::string id(created.json.at("id").as_string());
    if (i % 2 == 0) {
      REQUIRE(
          decider.call("approver", "POST", "/api/v1/access-requests/" + id + "/approve").status ==
          200);
      REQUIRE(wait_until([&] { return request_status(decider, "alice", id) == "ACTIVE"; }, 30s));
      REQUIRE(maker.call("alice", "POST", "/api/v1/access-requests/" + id + "/revoke").status ==
              200);
      expected[id] = {"request.created", "request.pending_approval", "request.approved",
                      "request.active", "request.revoked"};
    } else {
      REQUIRE(decider
                  .call("approver", "POST", "/api/v1/access-requests/" + id + "/reject",
                        R"({"reason":"no"})")
                  .status == 200);
      expected[id] = {"request.created", "request.pending_approval", "request.rejected"};
    }
  }
  auto complete = [&](const std::vector<received_webhook>& got) {
    auto have = by_request(got);
    for (const auto& [id, types] : expected)
      if (have[id].size() < types.size()) return false;
    return true;
  };
  receiver.wait_for("every event of six requests", complete, 90s);
  std::this_thread::sleep_for(1s);  // a delivery made twice would arrive by now
  std::size_t repeats = 0;
  auto have = by_request(receiver.received(), &repeats);
  for (const auto& [id, types] : expected) {
    INFO(id << ":\n" << receiver.describe());
    CHECK(have[id] == types);
  }
  CHECK(repeats == 0);  // no kill, no failure: once each
  // Every replica took part in the sending (the claims spread the work).
  std::size_t senders = 0;
  for (const auto& b : r) senders += b->log().find("delivered (attempt 1") != std::string::npos;
  INFO("replicas that delivered something: " << senders);
  CHECK(senders >= 2);

  // Two replicas die in the middle of deliveries (whichever was sending: the receiver answers
  // 300 ms late): the one left takes over what they held.
  const auto before = receiver.received().size();
  auto last = create_request(*r[0], "bob", "appdb", "read_only", "1h");
  REQUIRE(last.status == 201);
  const std::string id(last.json.at("id").as_string());
  expected[id] = {"request.created", "request.approved", "request.active"};
  receiver.wait_for("the first event of " + id,
                    [&](const auto& got) { return got.size() > before; });
  r[0]->kill9();
  r[1]->kill9();
  auto got = receiver.wait_for(
      "every event of " + id + " from the replica left",
      [&](const auto& seen) { return by_request(seen)[id].size() >= 3; }, 60s);
  CHECK(by_request(got)[id] == expected[id]);
  CHECK(wait_until(
      [&] {
        return r[2]
            ->call("admin", "GET", "/api/v1/notifications/deliveries?status=pending")
            .json.as_array()
            .empty();
      },
      30s));
}
