// Must show 3 of the notifications issue: aponod killed with SIGKILL right after each transition
// (before, during or after its webhook goes out) and started again. In the end the receiver,
// deduplicating by webhook-id, has every request's events with no gap, in order, and nothing
// for a transition that did not happen. APONO_NOTIFY_CRASH_SEED repeats a run's kill timings.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>

#include "broker/notify/webhook/signing.hpp"
#include "common/secrets.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/webhook_receiver.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;
using strings = std::vector<std::string>;

TEST_CASE("kill -9 between transitions and their webhooks: after restarts nothing is missing") {
  const auto secret = apono::broker::notify::generate_secret();
  // Each answer comes 200 ms late, so some kills land while a delivery is in flight.
  webhook_receiver receiver({secret}, json::object{{"/all", json::array{"200;delay=200"}}});
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  temp_dir dir("webhook-crash");
  const auto extra = dir.path / "extra.yaml";
  apono::common::write_private_file(
      extra,
      "notifications:\n  timeout: 5s\n  retry: {initial: 1s, max: 2s, jitter: false}\n"
      "  webhooks:\n    - name: all\n      url: " +
          receiver.url("/all") + "\n      secrets: [" + secret +
          "]\n      events: [\"request.*\"]\n");
  broker_fixture b(pg, {"--dev-extra", extra.string()});
  log_on_failure show_log([&] { return b.log(); });

  const char* seed_env = std::getenv("APONO_NOTIFY_CRASH_SEED");
  const auto seed = seed_env ? std::strtoul(seed_env, nullptr, 10) : std::random_device{}();
  std::cout << "APONO_NOTIFY_CRASH_SEED=" << seed << "\n";
  std::mt19937 rng(seed);
  int kills = 0;
  // Kills aponod 0 to 300 ms after the transition's answer, then starts it again.
  auto crash = [&](const std::string& what) {
    const auto wait = std::uniform_int_distribution<int>(0, 300)(rng);
    std::this_thread::sleep_for(std::chrono::milliseconds{wait});
    b.kill9();
    ++kills;
    std::cout << "kill -9 " << wait << " ms after " << what << "\n";
    b.start();
  };
  auto must = [&](api_answer a, int status) {
    INFO(a.body);
    REQUIRE(a.status == status);
    return a;
  };
  auto id_of = [](const api_answer& a) { return std::string(a.json.at("id").as_string()); };
  auto active = [&](const std::string& id) {
    REQUIRE(wait_until([&] { return request_status(b, "admin", id) == "ACTIVE"; }, 60s));
  };

  std::map<std::string, strings> expected;
  const auto a = id_of(must(create_request(b, "alice", "appdb", "read_only", "4s"), 201));
  expected[a] = {"request.created", "request.approved", "request.active", "request.expired"};
  crash("creating " + a);
  const auto m = id_of(must(create_request(b, "alice", "appdb", "read_write", "1h"), 201));
  expected[m] = {"request.created", "request.pending_approval", "request.approved",
                 "request.active", "request.revoked"};
  crash("creating " + m);
  must(b.call("approver", "POST", "/api/v1/access-requests/" + m + "/approve"), 200);
  crash("approving " + m);
  const auto r = id_of(must(create_request(b, "bob", "appdb", "admin", "1h"), 201));
  expected[r] = {"request.created", "request.pending_approval", "request.rejected"};
  crash("creating " + r);
  must(b.call("approver", "POST", "/api/v1/access-requests/" + r + "/reject",
              R"({"reason":"not now"})"),
       200);
  crash("rejecting " + r);
  const auto d = id_of(must(create_request(b, "bob", "appdb", "read_only", "1h"), 201));
  expected[d] = {"request.created", "request.approved", "request.active", "request.revoked"};
  crash("creating " + d);
  active(d);
  must(b.call("bob", "POST", "/api/v1/access-requests/" + d + "/revoke"), 200);
  crash("revoking " + d);
  active(m);
  must(b.call("admin", "POST", "/api/v1/access-requests/" + m + "/revoke", R"({"reason":"chaos"})"),
       200);
  crash("revoking " + m);

  // Everything the transitions imply, once each per webhook-id.
  auto by_request = [](const std::vector<received_webhook>& got) {
    std::map<std::string, strings> out;
    std::set<std::string> ids;
    for (const auto& w : got) {
      if (!ids.insert(w.id).second) continue;
      out[std::string(w.json.at("data").at("request_id").as_string())].push_back(w.type);
    }
    return out;
  };
  auto got = receiver.wait_for(
      "every event of every request",
      [&](const auto& seen) {
        auto have = by_request(seen);
        for (const auto& [id, types] : expected)
          if (have[id].size() < types.size()) return false;
        return true;
      },
      90s);
  // Late duplicates or strays would come now: give them a moment, then compare.
  std::this_thread::sleep_for(1500ms);
  got = receiver.received();
  const auto have = by_request(got);
  for (const auto& [id, types] : expected) {
    INFO(id << ": received\n" << receiver.describe());
    CHECK(have.at(id) == types);
  }
  CHECK(have.size() == expected.size());

  // Each event is one the audit trail holds, of its request and with its action.
  auto audit = b.call("admin", "GET", "/api/v1/audit?limit=1000");
  REQUIRE(audit.status == 200);
  std::map<std::int64_t, std::pair<std::string, std::string>> trail;  // id -> request, action
  for (const auto& e : audit.json.as_array())
    trail[e.at("id").as_int64()] = {
        e.at("request_id").is_string() ? std::string(e.at("request_id").as_string()) : "",
        std::string(e.at("action").as_string())};
  std::size_t duplicates = 0;
  std::set<std::string> ids;
  for (const auto& w : got) {
    INFO(w.id << " " << w.type);
    CHECK(w.verified == std::vector<bool>{true});
    if (!ids.insert(w.id).second) ++duplicates;
    const auto& data = w.json.at("data");
    auto it = trail.find(data.at("audit_id").as_int64());
    REQUIRE(it != trail.end());
    CHECK(it->second.first == std::string(data.at("request_id").as_string()));
  }
  std::cout << kills << " kills; " << got.size() << " webhooks received, " << duplicates
            << " of them again after a restart (same webhook-id)\n";
  auto pending = b.call("admin", "GET", "/api/v1/notifications/deliveries?status=pending");
  CHECK(pending.json.as_array().empty());
}
