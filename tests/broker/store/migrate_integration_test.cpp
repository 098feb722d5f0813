// `aponod store migrate`: a broker's SQLite store, populated by a real aponod, copied into
// PostgreSQL; the counts agree, a broker started on the copy ends the grant that was active on
// time, and a portal session signed in before the move still works after it.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "broker/store/sqlite_store.hpp"
#include "common/model.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/endings.hpp"
#include "tests/support/pg_fixture.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

std::string id_of(const api_answer& a) {
  REQUIRE(a.status == 201);
  return std::string(a.json.at("id").as_string());
}

long long count(const std::string& text) {
  return std::stoll(text.empty() ? "0" : text);
}

}  // namespace

TEST_CASE("migrate: SQLite to PostgreSQL, counts equal, an active grant still ends on time") {
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  pg.psql("CREATE DATABASE apono_store");
  const auto store_url = pg.admin_url("apono_store");
  broker_fixture sqlite_broker(pg);

  // Requests in every kind of state: ended, pending, and one grant still active.
  auto revoked = id_of(create_request(sqlite_broker, "alice", "appdb", "read_only", "10m"));
  REQUIRE(
      wait_until([&] { return request_status(sqlite_broker, "alice", revoked) == "ACTIVE"; }, 30s));
  REQUIRE(sqlite_broker.call("alice", "POST", "/api/v1/access-requests/" + revoked + "/revoke")
              .status == 200);
  auto rejected = id_of(create_request(sqlite_broker, "bob", "appdb", "read_write", "1h"));
  REQUIRE(sqlite_broker
              .call("approver", "POST", "/api/v1/access-requests/" + rejected + "/reject",
                    R"({"reason":"not today"})")
              .status == 200);
  auto pending = id_of(create_request(sqlite_broker, "bob", "appdb", "read_write", "1h"));
  auto active = id_of(create_request(sqlite_broker, "alice", "appdb", "read_only", "25s"));
  REQUIRE(
      wait_until([&] { return request_status(sqlite_broker, "alice", active) == "ACTIVE"; }, 30s));
  REQUIRE(wait_until([&] { return request_status(sqlite_broker, "alice", revoked) == "REVOKED"; },
                     30s));
  auto details =
      sqlite_broker.call("alice", "GET", "/api/v1/access-sessions/" + active + "/access-details");
  REQUIRE(details.status == 200);
  const std::string password(details.json.at("units").at(0).at("password").as_string());
  const auto ends_at = *apono::common::parse_rfc3339(
      sqlite_broker.call("alice", "GET", "/api/v1/access-requests/" + active)
          .json.at("ends_at")
          .as_string());
  // A portal session, which the copy keeps: a browser stays signed in across the move.
  auto signed_in =
      raw_https(sqlite_broker, "POST", "/api/v1/browser-session",
                {{"X-Apono-CSRF", "1"},
                 {"Origin", sqlite_broker.url()},
                 {"Content-Type", "application/json"}},
                R"({"username":"bob","password":")" + sqlite_broker.password("bob") + "\"}");
  REQUIRE(signed_in.status == 200);
  const auto cookie = signed_in.headers.at("set-cookie").substr(0, 64);
  REQUIRE(sqlite_broker.stop() == 0);
  // A Slack message posted about the pending request (copied: later events update it) and a
  // request from Slack seen (not copied: its 5-minute window is over by the time a migrated
  // broker starts).
  {
    apono::broker::sqlite_store st(sqlite_broker.data_dir() / "apono.db");
    st.transact([&](apono::broker::store_tx& tx) {
      const auto now =
          std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
      CHECK(tx.insert_slack_message({"msg_1_deadbeef", *apono::common::parse_request_id(pending),
                                     "approver", "approver", "DAPPROVER1", "1733500000.000100",
                                     now}));
      CHECK(tx.remember_slack_request("seen", now + 5min, now));
    });
  }

  auto migrated =
      run({APONOD_BINARY, "store", "migrate", "--from",
           "sqlite:" + (sqlite_broker.data_dir() / "apono.db").string(), "--to", store_url});
  INFO(migrated.output);
  REQUIRE(migrated.status == 0);
  CHECK(migrated.output.find("requests: 4 rows") != std::string::npos);
  CHECK(migrated.output.find("units: 4 rows") != std::string::npos);
  CHECK(migrated.output.find("browser_sessions: 1 rows") != std::string::npos);
  CHECK(migrated.output.find("slack_messages: 1 rows") != std::string::npos);
  CHECK(pg.psql("SELECT channel || ' ' || ts FROM slack_messages", "apono_store") ==
        "DAPPROVER1 1733500000.000100");
  CHECK(count(pg.psql("SELECT count(*) FROM slack_requests_seen", "apono_store")) == 0);
  CHECK(migrated.output.find("secrets: 1 open with the keys given") != std::string::npos);
  CHECK(migrated.output.find(store_url) == std::string::npos);  // the URL holds a password
  CHECK(count(pg.psql("SELECT count(*) FROM requests", "apono_store")) == 4);
  CHECK(count(pg.psql("SELECT count(*) FROM audit", "apono_store")) > 10);

  // A second migration into the same database is refused, and changes nothing.
  auto again =
      run({APONOD_BINARY, "store", "migrate", "--from",
           "sqlite:" + (sqlite_broker.data_dir() / "apono.db").string(), "--to", store_url});
  CHECK(again.status == 1);
  CHECK(again.output.find("not empty") != std::string::npos);

  // The same users and keys, now on PostgreSQL.
  broker_fixture pg_broker(pg, {"--store", store_url}, sqlite_broker);
  require_before_end("the broker on the migrated store is up", ends_at);
  CHECK(request_status(pg_broker, "alice", active) == "ACTIVE");
  CHECK(request_status(pg_broker, "alice", revoked) == "REVOKED");
  CHECK(request_status(pg_broker, "bob", rejected) == "REJECTED");
  CHECK(request_status(pg_broker, "bob", pending) == "PENDING");
  auto again_details =
      pg_broker.call("alice", "GET", "/api/v1/access-sessions/" + active + "/access-details");
  REQUIRE(again_details.status == 200);
  CHECK(std::string(again_details.json.at("units").at(0).at("password").as_string()) == password);
  auto still_signed_in = raw_https(pg_broker, "GET", "/api/v1/session", {{"Cookie", cookie}});
  CHECK(still_signed_in.status == 200);
  CHECK(still_signed_in.body.find("\"user\":\"bob\"") != std::string::npos);

  REQUIRE(wait_until([&] { return request_status(pg_broker, "alice", active) == "EXPIRED"; }, 60s));
  auto cut = status_changed_at(pg_broker, active, "REVOKING");
  auto late = std::chrono::duration_cast<std::chrono::milliseconds>(cut - ends_at);
  INFO("expiry began " << late.count() << " ms after the end");
  CHECK(late >= 0ms);
  CHECK(late < 1s);
  CHECK(count(pg.psql("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'apono\\_ar%'")) == 0);

  // The new broker goes on where the old one stopped: ids continue, approvals work.
  REQUIRE(pg_broker.call("approver", "POST", "/api/v1/access-requests/" + pending + "/approve")
              .status == 200);
  auto next = id_of(create_request(pg_broker, "alice", "appdb", "read_only", "10m"));
  CHECK(apono::common::parse_request_id(next) > apono::common::parse_request_id(pending));
}
