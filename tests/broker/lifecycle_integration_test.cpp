// Must-show 1, 3 and 4 of the broker issue against a real aponod and a real PostgreSQL:
// automatic grants usable with psql, the manual flow over the API, and revoke.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "tests/support/broker_fixture.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

struct creds {
  std::string user, password;
};

creds details(broker_fixture& b, const std::string& user, const std::string& id) {
  auto a = b.call(user, "GET", "/api/v1/access-sessions/" + id + "/access-details");
  REQUIRE(a.status == 200);
  const auto& u = a.json.at("units").at(0);
  return {std::string(u.at("username").as_string()), std::string(u.at("password").as_string())};
}

bool role_exists(const pg_fixture& pg, const std::string& role) {
  return pg.psql("SELECT count(*) FROM pg_roles WHERE rolname = '" + role + "'") == "1";
}

void seed(const pg_fixture& pg) {
  pg.psql("CREATE DATABASE appdb");
  pg.psql("CREATE TABLE t(id int primary key, v text); INSERT INTO t VALUES (1, 'one')", "appdb");
}

}  // namespace

TEST_CASE("automatic flow: ACTIVE within 1 s, and psql can do exactly what read_only allows") {
  pg_fixture pg;
  seed(pg);
  broker_fixture b(pg);

  auto t0 = std::chrono::steady_clock::now();
  auto created = create_request(b, "alice", "appdb", "read_only", "10m");
  REQUIRE(created.status == 201);
  auto id = std::string(created.json.at("id").as_string());
  CHECK(id == "AR-00001");
  REQUIRE(wait_until([&] { return request_status(b, "alice", id) == "ACTIVE"; }, 30s));
  INFO("ACTIVE after " << std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - t0)
                              .count()
                       << " ms");

  auto c = details(b, "alice", id);
  CHECK(c.user.rfind("apono_ar1_", 0) == 0);
  auto sel = pg.psql_as(c.user, c.password, "appdb", "SELECT v FROM t WHERE id = 1");
  CHECK(sel.first == 0);
  CHECK(sel.second.find("one") != std::string::npos);
  auto ins = pg.psql_as(c.user, c.password, "appdb", "INSERT INTO t VALUES (2, 'two')");
  CHECK(ins.first != 0);
  CHECK(ins.second.find("permission denied") != std::string::npos);
  CHECK(pg.psql("SELECT count(*) FROM t", "appdb") == "1");

  // Only the requester gets credentials.
  CHECK(b.call("bob", "GET", "/api/v1/access-sessions/" + id + "/access-details").status == 404);
  CHECK(b.call("admin", "GET", "/api/v1/access-sessions/" + id + "/access-details").status == 403);

  // The event feed shows alice her own changes and bob nothing.
  auto ev = b.call("alice", "GET", "/api/v1/events?after=0&timeout=0");
  REQUIRE(ev.status == 200);
  std::vector<std::string> seen;
  for (const auto& e : ev.json.at("events").as_array())
    seen.emplace_back(e.at("status").as_string());
  CHECK(seen == std::vector<std::string>{"GRANTING", "ACTIVE"});
  CHECK(b.call("bob", "GET", "/api/v1/events?after=0&timeout=0")
            .json.at("events")
            .as_array()
            .empty());
}

TEST_CASE("long-poll wakes on a change, revoke ends access within 2 s") {
  pg_fixture pg;
  seed(pg);
  broker_fixture b(pg);
  auto created = create_request(b, "alice", "appdb", "read_only", "1h");
  REQUIRE(created.status == 201);
  auto id = std::string(created.json.at("id").as_string());
  REQUIRE(wait_until([&] { return request_status(b, "alice", id) == "ACTIVE"; }, 30s));
  auto c = details(b, "alice", id);
  auto next =
      b.call("alice", "GET", "/api/v1/events?after=0&timeout=0").json.at("next_after").as_int64();

  // A session open during the grant.
  temp_dir session_dir("psql-session");
  auto log = session_dir.path / "psql.log";
  child_process session({"psql", "-X", "-h", "127.0.0.1", "-p", std::to_string(pg.port()), "-U",
                         c.user, "-d", "appdb", "-c", "SELECT pg_sleep(60)"},
                        log, {{"PGPASSWORD", c.password}});
  REQUIRE(wait_until(
      [&] {
        return pg.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = '" + c.user + "'") ==
               "1";
      },
      5s));

  // A long-poll is waiting when the revoke lands from another client; it must return with
  // the change at once, not at its 10 s timeout.
  apono::common::http_client poller({b.url(), b.ca_file(), b.token("alice"), 20s});
  apono::common::http_result poll;
  std::chrono::steady_clock::time_point poll_done;
  std::thread waiter([&] {
    poll = poller.request("GET", "/api/v1/events?after=" + std::to_string(next) + "&timeout=10");
    poll_done = std::chrono::steady_clock::now();
  });
  std::this_thread::sleep_for(500ms);
  auto t0 = std::chrono::steady_clock::now();
  auto rv =
      b.call("alice", "POST", "/api/v1/access-requests/" + id + "/revoke", R"({"reason":"done"})");
  REQUIRE(rv.status == 200);
  waiter.join();
  REQUIRE(poll.status == 200);
  CHECK(poll_done - t0 < 2s);
  CHECK(json::parse(poll.body).at("events").at(0).at("status") == "REVOKING");
  REQUIRE(wait_until([&] { return request_status(b, "alice", id) == "REVOKED"; }, 2s));
  INFO("REVOKED after " << std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - t0)
                               .count()
                        << " ms");
  CHECK_FALSE(role_exists(pg, c.user));
  CHECK(wait_until([&] { return !session.running(); }, 2s));
  CHECK(session.wait(0ms) != 0);
  CHECK(pg.psql_as(c.user, c.password, "appdb", "SELECT 1").first != 0);
  CHECK(b.call("alice", "POST", "/api/v1/access-requests/" + id + "/revoke").status == 409);
}

TEST_CASE("manual flow over the API: approve, self-approval refused, reject with a reason") {
  pg_fixture pg;
  seed(pg);
  broker_fixture b(pg);
  auto created = create_request(b, "alice", "appdb", "read_write", "30m");
  REQUIRE(created.status == 201);
  auto id = std::string(created.json.at("id").as_string());
  CHECK(created.json.at("status") == "PENDING");
  std::this_thread::sleep_for(300ms);
  CHECK(request_status(b, "alice", id) == "PENDING");

  auto self = b.call("alice", "POST", "/api/v1/access-requests/" + id + "/approve");
  CHECK(self.status == 403);
  CHECK(self.json.at("error").at("message") == "you cannot approve your own request");
  CHECK(b.call("bob", "POST", "/api/v1/access-requests/" + id + "/approve").status == 404);

  auto pending = b.call("approver", "GET", "/api/v1/access-requests?scope=approvable");
  REQUIRE(pending.status == 200);
  REQUIRE(pending.json.as_array().size() == 1);

  auto ok = b.call("approver", "POST", "/api/v1/access-requests/" + id + "/approve");
  REQUIRE(ok.status == 200);
  REQUIRE(wait_until([&] { return request_status(b, "alice", id) == "ACTIVE"; }, 30s));
  auto c = details(b, "alice", id);
  CHECK(pg.psql_as(c.user, c.password, "appdb", "INSERT INTO t VALUES (3, 'three')").first == 0);

  auto second = create_request(b, "bob", "appdb", "read_write", "30m");
  auto id2 = std::string(second.json.at("id").as_string());
  CHECK(b.call("approver", "POST", "/api/v1/access-requests/" + id2 + "/reject", "{}").status ==
        400);
  auto rej = b.call("approver", "POST", "/api/v1/access-requests/" + id2 + "/reject",
                    R"({"reason":"use the replica"})");
  REQUIRE(rej.status == 200);
  CHECK(rej.json.at("status") == "REJECTED");
  CHECK(b.call("bob", "GET", "/api/v1/access-requests/" + id2).json.at("reason") ==
        "use the replica");

  // Listing: alice sees her own request, the admin sees every request in the audit.
  auto mine = b.call("alice", "GET", "/api/v1/access-requests?days=1");
  REQUIRE(mine.json.as_array().size() == 1);
  auto audit = b.call("admin", "GET", "/api/v1/audit?request=" + id);
  REQUIRE(audit.status == 200);
  CHECK(audit.json.as_array().size() >= 4);
  CHECK(b.call("alice", "GET", "/api/v1/audit").status == 403);
}
