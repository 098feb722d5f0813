// Must-show 2: a 10-second grant ends on time, everywhere: EXPIRED within 2 s of its end, the
// role gone from pg_roles, and a psql session opened during the grant terminated.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "common/secrets.hpp"
#include "common/time.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/endings.hpp"

using namespace apono::test;
using namespace std::chrono_literals;

TEST_CASE("a 10-second grant expires at the target within 2 s of its end") {
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  broker_fixture b(pg);

  auto created = create_request(b, "alice", "appdb", "read_only", "10s");
  REQUIRE(created.status == 201);
  auto id = std::string(created.json.at("id").as_string());
  REQUIRE(wait_until([&] { return request_status(b, "alice", id) == "ACTIVE"; }, 30s));
  auto d = b.call("alice", "GET", "/api/v1/access-sessions/" + id + "/access-details");
  REQUIRE(d.status == 200);
  auto ends = *apono::common::parse_rfc3339(d.json.at("ends_at").as_string());
  auto user = std::string(d.json.at("units").at(0).at("username").as_string());
  auto password = std::string(d.json.at("units").at(0).at("password").as_string());
  auto role_count = [&] {
    return pg.psql("SELECT count(*) FROM pg_roles WHERE rolname = '" + user + "'");
  };
  CHECK(role_count() == "1");
  CHECK(pg.psql("SELECT rolvaliduntil IS NOT NULL FROM pg_roles WHERE rolname = '" + user + "'") ==
        "t");

  temp_dir session_dir("psql-session");
  auto log = session_dir.path / "psql.log";
  child_process session({"psql", "-X", "-h", "127.0.0.1", "-p", std::to_string(pg.port()), "-U",
                         user, "-d", "appdb", "-c", "SELECT pg_sleep(60)"},
                        log, {{"PGPASSWORD", password}});
  REQUIRE(wait_until(
      [&] {
        return pg.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = '" + user + "'") ==
               "1";
      },
      5s));
  CHECK(session.running());
  require_before_end("the psql session open", ends, 1s);

  // Wait for EXPIRED, then compare wall-clock times with the grant's end.
  REQUIRE(wait_until([&] { return request_status(b, "alice", id) == "EXPIRED"; }, 15s));
  auto expired_at = apono::common::system_clock{}.now();
  auto late = expired_at - ends;
  INFO("EXPIRED " << late.count() << " ms after the grant end");
  CHECK(late < 2s);
  CHECK(late > -100ms);
  CHECK(role_count() == "0");
  CHECK(wait_until([&] { return !session.running(); }, 1s));
  auto out = apono::common::read_file(log);
  CHECK(out.find("terminat") != std::string::npos);
  CHECK(pg.psql_as(user, password, "appdb", "SELECT 1").first != 0);
  CHECK(b.call("alice", "GET", "/api/v1/access-sessions/" + id + "/access-details").status == 409);
}
