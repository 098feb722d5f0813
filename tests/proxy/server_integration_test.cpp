// The local proxy against a real PostgreSQL 15 with real clients (psql, pgbench, libpq):
// the data path, cancel, the one-time TCP password, garbage from clients, and the cut when
// access ends or is revoked.
#include "proxy/server.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "common/secrets.hpp"
#include "tests/proxy/pg/wire.hpp"
#include "tests/proxy/proxy_rig.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/process.hpp"
#include "tests/support/ready_clock.hpp"

namespace {

using namespace apono;
using test::be32;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

using namespace test::proxy_test;

}  // namespace

TEST_CASE("real psql and pgbench work through the proxy: queries, copy, prepared, cancel",
          "[proxy]") {
  rig r;
  auto sock = r.socket_conninfo();

  auto q = psql(sock, {"-At", "-c", "select current_user, current_database(), 6 * 7"});
  REQUIRE(q.status == 0);
  CHECK(q.output == r.role + "|appdb|42\n");

  // \copy both ways, 2,000 rows with wide values.
  auto file = (r.dir.path / "rows.csv").string();
  auto out = psql(sock, {"-c",
                         "\\copy (select g, repeat(md5(g::text), 20) from "
                         "generate_series(1, 2000) g) to '" +
                             file + "' csv"});
  REQUIRE(out.status == 0);
  CHECK(out.output == "COPY 2000\n");
  auto in = psql(
      sock, {"-At", "-c", "create table t (id int, v text)", "-c",
             "\\copy t from '" + file + "' csv", "-c", "select count(*), sum(length(v)) from t"});
  REQUIRE(in.status == 0);
  CHECK(in.output == "CREATE TABLE\nCOPY 2000\n2000|1280000\n");

  // Prepared statements: SQL-level and the extended protocol (pgbench -M prepared).
  auto prep = psql(sock, {"-At", "-c", "prepare p(int) as select $1 + 1", "-c", "execute p(41)"});
  CHECK(prep.output == "PREPARE\n42\n");
  auto init = test::run({client_bin("pgbench"), "-i", "-s", "1", "-q", r.pg.admin_url("appdb")});
  REQUIRE(init.status == 0);
  r.pg.psql("GRANT SELECT, UPDATE, INSERT ON ALL TABLES IN SCHEMA public TO " + r.role, "appdb");
  for (std::string mode : {"prepared", "extended", "simple"}) {
    auto bench = test::run({client_bin("pgbench"), "-n", "-S", "-M", mode, "-c", "4", "-j", "2",
                            "-T", "2", "-h", r.socket_dir(), "-p", "5432", "-U", "x", "appdb"});
    INFO(bench.output);
    CHECK(bench.status == 0);
    CHECK(bench.output.find("number of failed transactions: 0") != std::string::npos);
  }
  auto reconnect = test::run({client_bin("pgbench"), "-n", "-S", "-C", "-c", "2", "-t", "50", "-h",
                              r.socket_dir(), "-p", "5432", "-U", "x", "appdb"});
  INFO(reconnect.output);
  CHECK(reconnect.status == 0);

  // A long query cancelled through the proxy's local cancel key.
  db_conn c(sock);
  REQUIRE(c.ok());
  REQUIRE(PQsendQuery(c.c, "select pg_sleep(30)") == 1);
  r.pg.wait_running("select pg_sleep(30)");
  auto start = std::chrono::steady_clock::now();
  PGcancel* cancel = PQgetCancel(c.c);
  char errbuf[256];
  REQUIRE(PQcancel(cancel, errbuf, sizeof errbuf) == 1);
  PQfreeCancel(cancel);
  PGresult* res = PQgetResult(c.c);
  CHECK(std::string(PQresultErrorField(res, PG_DIAG_SQLSTATE)
                        ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
                        : "") == "57014");
  PQclear(res);
  while ((res = PQgetResult(c.c))) PQclear(res);
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  CHECK(c.value("select 'still usable'") == "still usable");
}

TEST_CASE("TCP needs the one-time password; the socket directory is private", "[proxy]") {
  rig r;
  db_conn good(r.tcp_conninfo(r.tcp_password));
  REQUIRE(good.ok());
  CHECK(good.value("select current_user") == r.role);

  db_conn wrong(r.tcp_conninfo("guess"));
  CHECK_FALSE(wrong.ok());
  CHECK(wrong.error().find("one-time password") != std::string::npos);
  db_conn none("host=127.0.0.1 port=" + std::to_string(r.proxy->tcp_port()) +
               " dbname=appdb user=x sslmode=disable password=");
  CHECK_FALSE(none.ok());
  // The real password of the database login is no key to the proxy either.
  db_conn real(r.tcp_conninfo(r.password));
  CHECK_FALSE(real.ok());

  struct stat st {};
  REQUIRE(::stat(r.socket_dir().c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
  REQUIRE(::stat(r.proxy->socket_path().c_str(), &st) == 0);
  CHECK((st.st_mode & 077) == 0);

  auto open_dir = r.dir.path / "open";
  fs::create_directory(open_dir);
  fs::permissions(open_dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read | fs::perms::others_exec);
  CHECK_THROWS_WITH(proxy::ensure_socket_dir(open_dir),
                    Catch::Contains("open to other users") && Catch::Contains("0700"));

  db_conn other_db(r.socket_conninfo("postgres"));
  CHECK_FALSE(other_db.ok());
  CHECK(other_db.error().find("not part of AR-00001") != std::string::npos);
}

TEST_CASE("garbage, absurd lengths and silence end only that connection", "[proxy]") {
  rig r;
  db_conn keep(r.socket_conninfo());
  REQUIRE(keep.ok());
  auto path = r.proxy->socket_path().string();

  std::vector<std::string> attacks{
      be32(0xFFFFFFFFu) + be32(196608),        // negative length
      be32(0x7FFFFFFFu) + be32(196608),        // absurd length
      be32(100000) + be32(196608),             // over the startup limit
      be32(4) + be32(196608),                  // too short
      be32(12) + be32(0x00020000) + "ab\0\0",  // protocol 2.0
      be32(17) + be32(196608) + "user" + std::string(1, '\0') + "abc" +
          std::string(2, 'x'),              // unterminated parameters
      be32(16) + be32(80877102) + be32(1),  // CancelRequest too short
  };
  std::mt19937 rng(7);
  for (int i = 0; i < 20; ++i) {
    std::string junk(1 + rng() % 3000, '\0');
    for (auto& ch : junk) ch = static_cast<char>(rng());
    attacks.push_back(junk);
  }
  for (const auto& bytes : attacks) {
    raw_client c(path);
    REQUIRE(c.fd >= 0);
    c.send(bytes);
    bool closed = false;
    auto reply = c.read_all(3s, closed);
    // Either an ErrorResponse and a close, or (for an unknown cancel key, or a prefix of a
    // packet the proxy still waits on) nothing; never a hang past the startup timeout.
    if (!reply.empty()) CHECK(reply[0] == 'E');
  }
  // A startup followed by garbage where the TCP password should be.
  {
    raw_client c(path);
    std::string params = std::string("user\0x\0database\0appdb\0\0", 24);
    c.send(be32(8 + static_cast<std::uint32_t>(params.size())) + be32(196608) + params);
    bool closed = false;
    auto reply = c.read_all(300ms, closed);
    c.send("Q" + be32(0xFFFFFF00u) + "garbage");
    reply += c.read_all(3s, closed);
  }
  CHECK(keep.value("select 'alive'") == "alive");
  db_conn fresh(r.socket_conninfo());
  CHECK(fresh.ok());
  CHECK(r.proxy->counters().refused.load() >= attacks.size() / 2);
}

TEST_CASE("warning before the end, FATAL at the end, refused afterwards", "[proxy]") {
  // The grant's 4 s start once both connections are open and the busy one's query runs.
  rig r(4s, {2s}, true);

  std::vector<std::string> notices;
  std::mutex m;
  std::pair<std::vector<std::string>*, std::mutex*> sink(&notices, &m);
  db_conn idle(r.socket_conninfo());
  REQUIRE(idle.ok());
  PQsetNoticeReceiver(
      idle.c,
      [](void* arg, const PGresult* res) {
        auto* v = static_cast<std::pair<std::vector<std::string>*, std::mutex*>*>(arg);
        std::lock_guard lock(*v->second);
        v->first->push_back(PQresultErrorMessage(res));
      },
      &sink);

  db_conn busy(r.socket_conninfo());
  REQUIRE(busy.ok());
  REQUIRE(PQsendQuery(busy.c, "select pg_sleep(60)") == 1);
  r.pg.wait_running("select pg_sleep(60)");
  common::system_clock wall;
  r.clock.release();
  const auto ends = r.clock.wall_time_of(r.watch->ends_at());

  // The warning reaches the idle connection, which reads it as soon as it arrives.
  auto notice_count = [&] {
    std::lock_guard lock(m);
    return notices.size();
  };
  {
    INFO("waited for the 2-second warning on the idle connection");
    REQUIRE(test::wait_until(
        [&] {
          // PQisBusy parses what PQconsumeInput read: an asynchronous notice reaches the receiver.
          return PQconsumeInput(idle.c) == 1 && PQisBusy(idle.c) == 0 && notice_count() > 0;
        },
        10s));
  }
  const auto warned_at = wall.now();
  CHECK(warned_at >= ends - 2s - 50ms);
  CHECK(warned_at < ends);
  CHECK(idle.value("select 1") == "1");
  {
    std::lock_guard lock(m);
    REQUIRE(notices.size() == 1);
    CHECK(notices[0].find("WARNING:  access AR-00001 ends in 2 seconds") == 0);
  }

  PGresult* res = PQgetResult(busy.c);
  auto cut_at = wall.now();
  std::string err = PQerrorMessage(busy.c);
  PQclear(res);
  INFO(err);
  CHECK(err.find("FATAL:  access AR-00001 ended at") != std::string::npos);
  CHECK(err.find("the grant expired") != std::string::npos);
  CHECK(err.find("apono requests again AR-00001") != std::string::npos);
  CHECK(cut_at >= ends - 50ms);
  CHECK(cut_at - ends < 1s);

  // The idle connection was closed as well; the next statement fails.
  CHECK(idle.value("select 1").find("ERROR") == 0);
  db_conn late(r.socket_conninfo());
  CHECK_FALSE(late.ok());
  CHECK(late.error().find("access AR-00001 ended") != std::string::npos);
  db_conn late_tcp(r.tcp_conninfo(r.tcp_password));
  CHECK_FALSE(late_tcp.ok());
  CHECK(r.proxy->counters().cut.load() == 2);
}

TEST_CASE("a revoke cuts open sessions at once", "[proxy]") {
  rig r;
  db_conn busy(r.socket_conninfo());
  REQUIRE(busy.ok());
  REQUIRE(PQsendQuery(busy.c, "select pg_sleep(60)") == 1);
  r.pg.wait_running("select pg_sleep(60)");
  auto start = std::chrono::steady_clock::now();
  r.watch->end(proxy::end_cause::revoked);
  PGresult* res = PQgetResult(busy.c);
  PQclear(res);
  CHECK(std::chrono::steady_clock::now() - start < 1s);
  std::string err = PQerrorMessage(busy.c);
  CHECK(err.find("it was revoked") != std::string::npos);
}

TEST_CASE("a query sent after a cut mid-result does not lose the FATAL", "[proxy]") {
  rig r;
  raw_client c(r.proxy->socket_path().string());
  REQUIRE(c.fd >= 0);
  std::string params("user\0anyone\0database\0appdb\0\0", 28);
  c.send(be32(static_cast<std::uint32_t>(8 + params.size())) + be32(196608) + params);
  std::string pending;
  bool closed = false;
  bool ready = false;
  for (auto until = std::chrono::steady_clock::now() + 10s;
       !ready && !closed && std::chrono::steady_clock::now() < until;) {
    pending += c.read_some(4096, 1s, closed);
    for (const auto& [type, body] : take_messages(pending)) {
      INFO(body);
      REQUIRE(type != 'E');
      ready |= type == 'Z';
    }
  }
  REQUIRE(ready);

  // Read slowly, so the proxy is stuck in a write to us, between two server messages,
  // when access ends: the FATAL has to wait for the next boundary.
  c.send(query_message("select repeat('x', 1000) from generate_series(1, 200000)"));
  std::size_t rows = 0;
  for (auto until = std::chrono::steady_clock::now() + 400ms;
       std::chrono::steady_clock::now() < until;) {
    pending += c.read_some(1024, 1s, closed);
    REQUIRE_FALSE(closed);
    for (const auto& [type, body] : take_messages(pending)) {
      REQUIRE((type == 'T' || type == 'D'));
      rows += type == 'D';
    }
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(rows > 0);

  auto cut = std::chrono::steady_clock::now();
  r.watch->end(proxy::end_cause::revoked);
  // The client has not seen the FATAL yet and sends its next statement, as a user would.
  std::this_thread::sleep_for(20ms);
  c.send(query_message("select 1"));

  std::string fatal;
  bool after_fatal = false;
  auto eof = cut + 10s;
  for (auto until = cut + 10s; std::chrono::steady_clock::now() < until;) {
    pending += c.read_some(64 * 1024, 1s, closed);
    for (const auto& [type, body] : take_messages(pending)) {
      if (!fatal.empty()) after_fatal = true;
      if (type == 'E') {
        fatal = body;
      } else {
        // The rest of the result up to the boundary where the FATAL went in.
        REQUIRE(type == 'D');
      }
    }
    if (closed) {
      eof = std::chrono::steady_clock::now();
      break;
    }
  }
  REQUIRE(closed);
  CHECK(pending.empty());  // the stream ends at a message boundary
  CHECK_FALSE(after_fatal);
  REQUIRE_FALSE(fatal.empty());
  CHECK(error_field(fatal, 'S') == "FATAL");
  CHECK(error_field(fatal, 'C') == "57P01");
  CHECK(error_field(fatal, 'M').find("access AR-00001 ended at") == 0);
  CHECK(error_field(fatal, 'M').find("it was revoked") != std::string::npos);
  INFO("cut to EOF: " << std::chrono::duration_cast<std::chrono::milliseconds>(eof - cut).count()
                      << " ms");
  CHECK(eof - cut < 1500ms);
}

TEST_CASE("upstream TLS follows sslmode: require encrypts, verify-* check the CA and the name",
          "[proxy]") {
  test::pg_fixture pg(true);
  std::string role = "apono_t_" + common::random_lower_alnum(6);
  std::string password = common::random_password(20);
  pg.psql("CREATE ROLE " + role + " LOGIN PASSWORD '" + password + "'");
  test::temp_dir dir("apono-proxy-tls");
  auto other =
      test::run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", (dir.path / "other.key").string(), "-out",
                 (dir.path / "other.pem").string(), "-days", "1", "-subj", "/CN=other"});
  REQUIRE(other.status == 0);
  std::ifstream in(dir.path / "other.pem");
  std::string other_ca((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

  struct mode_case {
    std::string sslmode, host, ca, expect;
  };
  std::vector<mode_case> cases{
      {"disable", "127.0.0.1", "", "f"},
      {"prefer", "127.0.0.1", "", "t"},
      {"require", "127.0.0.1", "", "t"},
      {"verify-ca", "localhost", pg.ca_pem(), "t"},
      {"verify-full", "127.0.0.1", pg.ca_pem(), "t"},
      {"verify-full", "localhost", pg.ca_pem(), "certificate verify failed"},
      {"verify-ca", "127.0.0.1", other_ca, "certificate verify failed"},
  };
  common::system_clock clock;
  int n = 0;
  for (const auto& c : cases) {
    INFO(c.sslmode << " to " << c.host);
    proxy::grant_watch watch("AR-00002", clock.now() + 10min, clock);
    proxy::proxy_options o;
    o.upstream = {c.host, pg.port(), c.sslmode, c.ca, {{"postgres", role, password}}};
    o.unix_dir = dir.path / ("run" + std::to_string(n++));
    proxy::proxy_server p(std::move(o), watch);
    p.start();
    db_conn conn("host=" + (dir.path / ("run" + std::to_string(n - 1))).string() +
                 " port=5432 dbname=postgres user=x");
    if (c.expect == "t" || c.expect == "f") {
      REQUIRE(conn.ok());
      CHECK(conn.value("select ssl from pg_stat_ssl where pid = pg_backend_pid()") == c.expect);
    } else {
      CHECK_FALSE(conn.ok());
      CHECK(conn.error().find(c.expect) != std::string::npos);
    }
  }
}
