// The PostgreSQL provisioner against a real server: what a granted role can and cannot do,
// expiry, password reset, revocation cutting live sessions, hostile role names, concurrency,
// and that no cleartext password ever reaches the server's log.
#include "broker/provision/postgres_provisioner.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/secrets.hpp"
#include "common/time.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/process.hpp"

namespace {

using apono::broker::integration_config;
using apono::broker::postgres_provisioner;
using apono::broker::provision_error;
using apono::broker::provision_unit;
using apono::test::pg_fixture;

std::string sql_literal(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += c;
    out += c;
  }
  return out + "'";
}

/// One server for the whole file: starting PostgreSQL per test case would dominate run time.
/// Every test uses its own roles, so they do not depend on each other's order.
struct shared_env {
  pg_fixture pg;
  integration_config integration;
  postgres_provisioner provisioner;  // after pg: closes its connections before the server stops
  std::mutex secrets_mu;
  std::vector<std::string> secrets;  // every password handed out, for the log check

  shared_env() {
    pg.psql("CREATE DATABASE appdb");
    pg.psql("CREATE TABLE t(id int, v text); INSERT INTO t VALUES (1, 'one')", "appdb");
    integration.id = "pg-local";
    integration.name = "local PostgreSQL";
    integration.type = "postgresql";
    integration.resource_type = "database";
    integration.admin_url = pg.admin_url();
    integration.host = "127.0.0.1";
    integration.port = pg.port();
    integration.resources = {{"appdb"}};
    const std::vector<std::string> read_only = {
        "GRANT CONNECT ON DATABASE {database} TO {role}",
        "GRANT USAGE ON SCHEMA public TO {role}",
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
    };
    auto read_write = read_only;
    read_write.push_back("GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}");
    read_write.push_back("GRANT CREATE ON SCHEMA public TO {role}");
    integration.permissions = {
        {"read_only", read_only},
        {"read_write", read_write},
        {"broken", {"GRANT SELECT ON no_such_table TO {role}"}},
    };
  }

  provision_unit unit(const std::string& login, const std::string& permission = "read_only",
                      const std::string& resource = "appdb") {
    provision_unit u;
    u.integration = &integration;
    u.request_id = "AR-00042";
    u.resource = resource;
    u.permission = permission;
    u.login = login;
    u.secret = new_secret();
    u.valid_until = std::chrono::time_point_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now() + std::chrono::hours{1});
    return u;
  }

  std::string new_secret() {
    auto s = apono::common::random_password(24);
    std::lock_guard lock{secrets_mu};
    secrets.push_back(s);
    return s;
  }

  bool role_exists(const std::string& login) {
    return pg.psql("SELECT count(*) FROM pg_roles WHERE rolname = " + sql_literal(login)) == "1";
  }
};

shared_env& env() {
  static shared_env e;
  return e;
}

std::string new_login(const std::string& tag) {
  return "apono_ar42_" + tag + "_" + apono::common::random_lower_alnum(6);
}

}  // namespace

TEST_CASE("grant read_only lets the role read but not write", "[postgres]") {
  auto& e = env();
  auto u = e.unit(new_login("ro"));
  e.provisioner.grant(u);

  auto [status, out] = e.pg.psql_as(u.login, u.secret, "appdb", "SELECT v FROM t WHERE id = 1");
  INFO(out);
  CHECK(status == 0);
  CHECK(out == "one");

  auto [wstatus, wout] = e.pg.psql_as(u.login, u.secret, "appdb", "INSERT INTO t VALUES (2, 'x')");
  INFO(wout);
  CHECK(wstatus != 0);
  CHECK(wout.find("permission denied") != std::string::npos);

  e.provisioner.revoke(u);
}

TEST_CASE("grant is idempotent and sets VALID UNTIL and the comment", "[postgres]") {
  auto& e = env();
  auto u = e.unit(new_login("idem"));
  e.provisioner.grant(u);
  // A retry after a partial grant carries a fresh secret and must leave the role usable.
  u.secret = e.new_secret();
  u.valid_until += std::chrono::minutes{5};
  REQUIRE_NOTHROW(e.provisioner.grant(u));

  CHECK(e.pg.psql("SELECT to_char(rolvaliduntil AT TIME ZONE 'UTC', "
                  "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM pg_roles WHERE rolname = " +
                  sql_literal(u.login)) == apono::common::format_rfc3339(u.valid_until));
  CHECK(e.pg.psql("SELECT rolcanlogin, rolinherit FROM pg_roles WHERE rolname = " +
                  sql_literal(u.login)) == "t|f");
  CHECK(e.pg.psql("SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = " +
                  sql_literal(u.login)) == "apono AR-00042");
  CHECK(e.pg.psql("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = " +
                  sql_literal(u.login)) == "t");
  CHECK(e.pg.psql_as(u.login, u.secret, "appdb", "SELECT 1").first == 0);

  e.provisioner.revoke(u);
}

TEST_CASE("reset replaces the password", "[postgres]") {
  auto& e = env();
  auto u = e.unit(new_login("reset"));
  e.provisioner.grant(u);
  const auto old_secret = u.secret;
  u.secret = e.new_secret();
  e.provisioner.reset(u);

  auto [old_status, old_out] = e.pg.psql_as(u.login, old_secret, "appdb", "SELECT 1");
  INFO(old_out);
  CHECK(old_status != 0);
  CHECK(old_out.find("password authentication failed") != std::string::npos);
  CHECK(e.pg.psql_as(u.login, u.secret, "appdb", "SELECT 1").first == 0);

  e.provisioner.revoke(u);
  CHECK_THROWS_AS(e.provisioner.reset(u), provision_error);
}

TEST_CASE("revoke ends open sessions and removes the role", "[postgres]") {
  auto& e = env();
  auto u = e.unit(new_login("live"));
  e.provisioner.grant(u);

  auto dir = apono::test::make_temp_dir("apono-session-");
  {
    apono::test::child_process session(
        {"psql", "-X", "-w", "-h", "127.0.0.1", "-p", std::to_string(e.pg.port()), "-U", u.login,
         "-d", "appdb", "-c", "SELECT pg_sleep(60)"},
        dir / "psql.log", {{"PGPASSWORD", u.secret}});
    const auto visible =
        "SELECT count(*) FROM pg_stat_activity WHERE usename = " + sql_literal(u.login) +
        " AND query LIKE '%pg_sleep%'";
    for (int i = 0; i < 500 && e.pg.psql(visible) != "1"; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    REQUIRE(e.pg.psql(visible) == "1");

    const auto start = std::chrono::steady_clock::now();
    e.provisioner.revoke(u);
    const auto took = std::chrono::steady_clock::now() - start;
    INFO("revoke took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                        << " ms");
    CHECK(took < std::chrono::seconds{3});

    const int status = session.wait(std::chrono::seconds{10});
    CHECK(status != -1);  // it ended, and not because we waited it out
    CHECK(status != 0);
  }
  std::filesystem::remove_all(dir);

  CHECK_FALSE(e.role_exists(u.login));
  CHECK(e.pg.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = " +
                  sql_literal(u.login)) == "0");
  CHECK(e.pg.psql_as(u.login, u.secret, "appdb", "SELECT 1").first != 0);
  REQUIRE_NOTHROW(e.provisioner.revoke(u));
}

TEST_CASE("role names with quotes and semicolons are quoted, not executed", "[postgres]") {
  auto& e = env();
  const std::string login = "apono_ar1_x\"; DROP TABLE t; --";
  auto u = e.unit(login);
  e.provisioner.grant(u);
  CHECK(e.role_exists(login));
  CHECK(e.pg.psql_as(login, u.secret, "appdb", "SELECT count(*) FROM t").first == 0);
  e.provisioner.revoke(u);
  CHECK_FALSE(e.role_exists(login));
  CHECK(e.pg.psql("SELECT v FROM t WHERE id = 1", "appdb") == "one");

  // A placeholder inside the name must not be expanded again.
  auto v = e.unit("apono_{database}_{role}'q");
  e.provisioner.grant(v);
  CHECK(e.pg.psql_as(v.login, v.secret, "appdb", "SELECT v FROM t WHERE id = 1").second == "one");
  e.provisioner.revoke(v);
  CHECK_FALSE(e.role_exists(v.login));
}

TEST_CASE("concurrent grants and revokes from several threads all succeed", "[postgres]") {
  auto& e = env();
  std::vector<provision_unit> units;
  const auto tag = apono::common::random_lower_alnum(4);
  for (int i = 0; i < 20; ++i)
    units.push_back(e.unit("apono_ar42_conc_" + tag + "_" + std::to_string(i)));

  auto in_parallel = [&](auto action) {
    std::atomic<std::size_t> next{0};
    std::mutex mu;
    std::vector<std::string> errors;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&] {
        for (std::size_t i; (i = next++) < units.size();) {
          try {
            action(units[i]);
          } catch (const std::exception& ex) {
            std::lock_guard lock{mu};
            errors.emplace_back(ex.what());
          }
        }
      });
    for (auto& th : threads) th.join();
    return errors;
  };

  auto grant_errors = in_parallel([&](const provision_unit& u) { e.provisioner.grant(u); });
  INFO((grant_errors.empty() ? std::string{} : grant_errors.front()));
  CHECK(grant_errors.empty());
  const auto count =
      "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'apono\\_ar42\\_conc\\_" + tag + "\\_%'";
  CHECK(e.pg.psql(count) == "20");
  CHECK(e.pg.psql_as(units[7].login, units[7].secret, "appdb", "SELECT v FROM t").second == "one");

  auto revoke_errors = in_parallel([&](const provision_unit& u) { e.provisioner.revoke(u); });
  INFO((revoke_errors.empty() ? std::string{} : revoke_errors.front()));
  CHECK(revoke_errors.empty());
  CHECK(e.pg.psql(count) == "0");
}

TEST_CASE("revoke of a role that owns objects reassigns them and drops the role", "[postgres]") {
  auto& e = env();
  auto u = e.unit(new_login("owner"), "read_write");
  e.provisioner.grant(u);
  auto [status, out] = e.pg.psql_as(u.login, u.secret, "appdb",
                                    "INSERT INTO t VALUES (3, 'three'); "
                                    "CREATE TABLE owned_by_grant(id int); "
                                    "INSERT INTO owned_by_grant VALUES (1)");
  INFO(out);
  REQUIRE(status == 0);

  REQUIRE_NOTHROW(e.provisioner.revoke(u));
  CHECK_FALSE(e.role_exists(u.login));
  // REASSIGN OWNED keeps the data: the broker's admin now owns it.
  CHECK(e.pg.psql("SELECT tableowner FROM pg_tables WHERE tablename = 'owned_by_grant'", "appdb") ==
        "postgres");
  CHECK(e.pg.psql("SELECT v FROM t WHERE id = 3", "appdb") == "three");
}

TEST_CASE("revoke succeeds when the resource database is gone", "[postgres]") {
  auto& e = env();
  e.pg.psql("CREATE DATABASE scratchdb");
  auto u = e.unit(new_login("gone"), "read_only", "scratchdb");
  e.provisioner.grant(u);
  e.pg.psql("DROP DATABASE scratchdb WITH (FORCE)");
  REQUIRE_NOTHROW(e.provisioner.revoke(u));
  CHECK_FALSE(e.role_exists(u.login));
}

TEST_CASE("failures are provision_errors that never carry a secret", "[postgres]") {
  auto& e = env();

  auto unknown = e.unit(new_login("unknown"), "no_such_permission");
  CHECK_THROWS_WITH(e.provisioner.grant(unknown),
                    Catch::Contains("pg-local/appdb: unknown permission no_such_permission"));

  auto broken = e.unit(new_login("broken"), "broken");
  try {
    e.provisioner.grant(broken);
    FAIL("grant with a broken template succeeded");
  } catch (const provision_error& ex) {
    const std::string what = ex.what();
    INFO(what);
    CHECK(what.find("pg-local/appdb: ") == 0);
    CHECK(what.find("no_such_table") != std::string::npos);
    CHECK(what.find(broken.secret) == std::string::npos);
    CHECK(what.find("SCRAM") == std::string::npos);
  }
  e.provisioner.revoke(broken);

  // Someone else's role is never altered or dropped, whatever login the broker is handed.
  auto admin = e.unit("postgres");
  CHECK_THROWS_AS(e.provisioner.grant(admin), provision_error);
  CHECK_THROWS_AS(e.provisioner.revoke(admin), provision_error);
  CHECK_THROWS_AS(e.provisioner.reset(admin), provision_error);

  REQUIRE_NOTHROW(e.provisioner.check(e.integration));
  auto wrong = e.integration;
  const std::string bad_password = "wrong-" + apono::common::random_password(12);
  wrong.admin_url = "host=127.0.0.1 port=" + std::to_string(e.pg.port()) +
                    " user=postgres dbname=postgres password=" + bad_password;
  try {
    e.provisioner.check(wrong);
    FAIL("check with a wrong password succeeded");
  } catch (const provision_error& ex) {
    const std::string what = ex.what();
    INFO(what);
    CHECK(what.find("pg-local: connect failed: ") == 0);
    CHECK(what.find(bad_password) == std::string::npos);
  }
}

TEST_CASE("the server log never contains a cleartext password", "[postgres]") {
  auto& e = env();
  // Exercise every path that sends a password, so this holds even when run alone.
  auto u = e.unit(new_login("log"));
  e.provisioner.grant(u);
  e.provisioner.grant(u);
  u.secret = e.new_secret();
  e.provisioner.reset(u);
  e.provisioner.revoke(u);

  const auto log_path = e.pg.psql("SELECT pg_current_logfile()");
  const auto log = apono::common::read_file(log_path);
  REQUIRE(log.find("CREATE ROLE") != std::string::npos);  // log_statement=all is in effect
  std::lock_guard lock{e.secrets_mu};
  for (const auto& s : e.secrets) {
    INFO("secret #" << (&s - e.secrets.data()) << " found in " << log_path);
    CHECK(log.find(s) == std::string::npos);
  }
}
