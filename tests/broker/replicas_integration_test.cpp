// Three aponod replicas on one PostgreSQL store, as behind a load balancer: a request moves
// through all three, a session held through one is cut by a revoke made on another, and grants
// that fall due together are each ended once, by one replica.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <future>
#include <regex>

#include "common/secrets.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/cli_fixture.hpp"
#include "tests/support/endings.hpp"
#include "tests/support/pg_fixture.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

// The target PostgreSQL (database appdb) also holds the store, in a database of its own.
struct cluster {
  pg_fixture pg;
  std::vector<std::unique_ptr<broker_fixture>> replicas;

  cluster() {
    pg.psql("CREATE DATABASE appdb");
    pg.psql("CREATE DATABASE apono_store");
    std::vector<std::string> args{"--store", pg.admin_url("apono_store")};
    replicas.push_back(std::make_unique<broker_fixture>(pg, args));
    for (int i = 1; i < 3; ++i)
      replicas.push_back(std::make_unique<broker_fixture>(pg, args, *replicas.front()));
  }
  broker_fixture& operator[](std::size_t i) { return *replicas.at(i); }
  // One value from the store database.
  std::string store_query(const std::string& sql) const { return pg.psql(sql, "apono_store"); }
  std::string logs() const {
    std::string all;
    for (const auto& r : replicas) all += r->log();
    return all;
  }
};

std::int64_t count(const std::string& text) {
  return std::stoll(text.empty() ? "0" : text);
}

}  // namespace

TEST_CASE("replicas: created on A, approved on B, revoked on C; a session through A is cut") {
  cluster c;
  auto& a = c[0];
  auto& b = c[1];
  auto& cc = c[2];
  auto created = create_request(a, "alice", "appdb", "read_write", "10m");
  REQUIRE(created.status == 201);
  std::string id(created.json.at("id").as_string());
  CHECK(request_status(b, "approver", id) == "PENDING");
  REQUIRE(b.call("approver", "POST", "/api/v1/access-requests/" + id + "/approve").status == 200);
  REQUIRE(wait_until([&] { return request_status(cc, "alice", id) == "ACTIVE"; }, 30s));

  // A session whose local proxy long-polls replica A.
  cli_fixture cli;
  temp_dir runtime{"apono-runtime"};
  auto login = cli.apono({"login", "--server", a.url(), "--ca-file", a.ca_file().string(),
                          "--token", a.token("alice")});
  REQUIRE(login.status == 0);
  auto env = cli.env();
  env["XDG_RUNTIME_DIR"] = runtime.path.string();
  temp_dir logs;
  child_process psql(
      {APONO_BINARY, "access", "connect", id, "--client", "psql", "-c", "select pg_sleep(60)"},
      logs.path / "psql.log", env);
  c.pg.wait_running("select pg_sleep(60)");

  int status = -1;
  std::vector<ending> all{
      {"psql through replica A's events", [&] { return (status = psql.wait(0ms)) != -1; }}};
  auto watching = std::async(std::launch::async, [&] { watch_endings(all, 30s); });
  auto revoked = cc.call("alice", "POST", "/api/v1/access-requests/" + id + "/revoke",
                         R"({"reason":"done on C"})");
  watching.get();
  REQUIRE(revoked.status == 200);
  check_ended_within_1s(all, status_changed_at(cc, id, "REVOKING"), "revoke on replica C");
  CHECK(status == 3);
  REQUIRE(wait_until([&] { return request_status(a, "alice", id) == "REVOKED"; }, 30s));

  // One trail, whichever replica is asked, with each step once.
  auto trail = b.call("admin", "GET", "/api/v1/audit?request=" + id + "&limit=100");
  REQUIRE(trail.status == 200);
  std::map<std::string, int> steps;  // action/status
  for (const auto& ev : trail.json.as_array()) {
    const auto& st = ev.at("status");
    ++steps[std::string(ev.at("action").as_string()) + "/" +
            (st.is_string() ? std::string(st.as_string()) : "")];
  }
  INFO(trail.body);
  CHECK(steps["request.created/PENDING"] == 1);
  CHECK(steps["request.approved/GRANTING"] == 1);
  CHECK(steps["request.active/ACTIVE"] == 1);
  CHECK(steps["request.revoked/REVOKING"] == 1);
  CHECK(steps["unit.revoked/"] == 1);
  CHECK(steps["request.revoked/REVOKED"] == 1);
}

TEST_CASE("replicas: 200 grants due in the same second are each expired exactly once") {
  cluster c;
  constexpr int grants = 200;
  std::vector<std::string> ids;
  for (int i = 0; i < grants; ++i) {
    auto r = create_request(c[static_cast<std::size_t>(i % 3)], "alice", "appdb", "read_only", "1h",
                            "batch " + std::to_string(i));
    REQUIRE(r.status == 201);
    ids.emplace_back(r.json.at("id").as_string());
  }
  auto active = [&] {
    return count(c.store_query("SELECT count(*) FROM requests WHERE status = 'ACTIVE'"));
  };
  bool all_active = wait_until([&] { return active() == grants; }, 120s);
  INFO("ACTIVE: " << active() << " of " << grants);
  REQUIRE(all_active);

  // The same end for all: 2 s from now, to the millisecond.
  c.store_query(
      "UPDATE requests SET ends_at = (extract(epoch from clock_timestamp()) * 1000)::bigint + "
      "2000 WHERE status = 'ACTIVE'");
  auto expired = [&] {
    return count(c.store_query("SELECT count(*) FROM requests WHERE status = 'EXPIRED'"));
  };
  bool all_expired = wait_until([&] { return expired() == grants; }, 120s);
  INFO("EXPIRED: " << expired() << " of " << grants);
  REQUIRE(all_expired);

  // Each transition once in the audit trail...
  for (const char* action : {"request.expiring", "request.expired", "unit.revoked"}) {
    INFO(action);
    CHECK(count(c.store_query(std::string("SELECT count(*) FROM audit WHERE action = '") + action +
                              "'")) == grants);
    CHECK(c.store_query(std::string("SELECT request_id FROM audit WHERE action = '") + action +
                        "' GROUP BY request_id HAVING count(*) <> 1")
              .empty());
  }
  // ...one call to the target per unit, across the three replicas...
  std::map<std::string, int> revokes;
  std::map<std::size_t, int> per_replica;
  const std::regex line(R"(revoking appdb read_only at the target \(login (apono_ar\w+)\))");
  for (std::size_t r = 0; r < 3; ++r) {
    auto log = c[r].log();
    for (std::sregex_iterator it(log.begin(), log.end(), line), end; it != end; ++it) {
      ++revokes[(*it)[1].str()];
      ++per_replica[r];
    }
  }
  CHECK(revokes.size() == grants);
  for (const auto& [login, n] : revokes) {
    INFO(login);
    CHECK(n == 1);
  }
  INFO("revokes by replica: A " << per_replica[0] << ", B " << per_replica[1] << ", C "
                                << per_replica[2]);
  // ...and nothing left at the target.
  CHECK(count(c.pg.psql("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'apono\\_ar%'")) == 0);
}

TEST_CASE("replicas: failed sign-ins are counted across them") {
  cluster c;
  const auto verifier = apono::common::base64url(apono::common::random_bytes(32));
  const auto challenge = apono::common::base64url(apono::common::sha256(verifier));
  auto sign_in = [&](broker_fixture& b, const std::string& user, const std::string& password) {
    // The login form as a browser posts it (the password is URL-safe: no escaping needed).
    std::string form = "username=" + user + "&password=" + password +
                       "&response_type=code&client_id=apono-cli&redirect_uri=http%3A%2F%2F127.0.0.1"
                       "%3A53123%2Fcallback&code_challenge=" +
                       challenge + "&code_challenge_method=S256&state=s1";
    return raw_https(b, "POST", "/login", {{"Content-Type", "application/x-www-form-urlencoded"}},
                     form)
        .status;
  };
  // Five failures, on three replicas, for one user.
  for (int i = 0; i < 5; ++i)
    CHECK(sign_in(c[static_cast<std::size_t>(i % 3)], "bob", "no") == 401);
  for (std::size_t r = 0; r < 3; ++r) {
    INFO("replica " << r);
    CHECK(sign_in(c[r], "bob", c[0].password("bob")) == 429);
  }
  CHECK(sign_in(c[1], "alice", c[0].password("alice")) == 302);
}
