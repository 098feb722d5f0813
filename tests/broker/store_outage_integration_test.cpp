// The PostgreSQL store goes away under a running aponod: /readyz says so within 2 s, the API
// answers 503 with Retry-After (never a 500, never a hang), and when the store is back aponod
// carries on by itself, with nothing lost.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/pg_fixture.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

using steady = std::chrono::steady_clock;

long long ms_since(steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t).count();
}

}  // namespace

TEST_CASE("a store outage: 503 with Retry-After while it lasts, and recovery without a restart") {
  pg_fixture target;
  target.psql("CREATE DATABASE appdb");
  pg_fixture store_db;
  store_db.psql("CREATE DATABASE apono_store");
  // The fixture trades durability for speed (synchronous_commit off), and the outage below is
  // a crash (immediate stop): a store must not lose what it acknowledged.
  store_db.psql("ALTER DATABASE apono_store SET synchronous_commit = on");
  broker_fixture b(target, {"--store", store_db.admin_url("apono_store")});

  auto before = create_request(b, "alice", "appdb", "read_only", "10m");
  REQUIRE(before.status == 201);
  std::string id(before.json.at("id").as_string());
  REQUIRE(wait_until([&] { return request_status(b, "alice", id) == "ACTIVE"; }, 30s));
  REQUIRE(raw_https(b, "GET", "/readyz", {}).status == 200);

  store_db.stop();
  const auto down = steady::now();
  int ready = 200;
  bool turned =
      wait_until([&] { return (ready = raw_https(b, "GET", "/readyz", {}).status) == 503; }, 10s);
  const auto noticed_ms = ms_since(down);
  INFO("/readyz answered " << ready << " " << noticed_ms << " ms after the store stopped");
  REQUIRE(turned);
  CHECK(noticed_ms < 2000);

  const std::vector<std::pair<std::string, std::string>> auth{
      {"Authorization", "Bearer " + b.token("alice")}};
  struct call {
    std::string method, target, body;
  };
  for (const auto& c : std::vector<call>{
           {"GET", "/api/v1/access-requests", ""},
           {"GET", "/api/v1/access-requests/" + id, ""},
           {"POST", "/api/v1/access-requests",
            R"({"integration":"pg-local","resources":["appdb"],"permissions":["read_only"],)"
            R"("duration":"5m","justification":"during the outage"})"},
           {"GET", "/api/v1/access-sessions", ""},
           {"GET", "/api/v1/events?after=0&timeout=1", ""}}) {
    auto headers = auth;
    if (!c.body.empty()) headers.emplace_back("Content-Type", "application/json");
    const auto sent = steady::now();
    auto a = raw_https(b, c.method, c.target, headers, c.body);
    INFO(c.method << " " << c.target << " -> " << a.status << " in " << ms_since(sent)
                  << " ms: " << a.body);
    CHECK(a.status == 503);
    CHECK(a.headers["retry-after"] == "1");
    CHECK(ms_since(sent) < 10000);
  }

  store_db.start();
  const auto up = steady::now();
  bool back = wait_until([&] { return raw_https(b, "GET", "/readyz", {}).status == 200; }, 30s);
  INFO("ready again " << ms_since(up) << " ms after the store came back");
  REQUIRE(back);
  // What was there is still there, and new work goes through the same process.
  CHECK(request_status(b, "alice", id) == "ACTIVE");
  auto after = create_request(b, "alice", "appdb", "read_only", "10m", "after the outage");
  REQUIRE(after.status == 201);
  std::string id2(after.json.at("id").as_string());
  CHECK(wait_until([&] { return request_status(b, "alice", id2) == "ACTIVE"; }, 30s));
  auto revoked = b.call("alice", "POST", "/api/v1/access-requests/" + id + "/revoke", "{}");
  CHECK(revoked.status == 200);
  CHECK(wait_until([&] { return request_status(b, "alice", id) == "REVOKED"; }, 30s));
  CHECK(b.log().find("internal error") == std::string::npos);
}
