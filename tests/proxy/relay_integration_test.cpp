// The steady-state relay of plain sessions (proxy/relay_loop) against a real PostgreSQL 15:
// bulk both ways through sockets that fill up (a client that does not read, a server that
// reads slower than the client sends), pipelined queries, a cut the client cannot take, and
// the proxy's stop with sessions in every state.
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "proxy/server.hpp"
#include "tests/proxy/pg/wire.hpp"
#include "tests/proxy/proxy_rig.hpp"
#include "tests/support/process.hpp"

namespace {

using namespace apono;
using test::be32;
using namespace std::chrono_literals;
using namespace test::proxy_test;

// Reads backend messages, `chunk` bytes at most per read, handing each to `take` until it
// returns true (then true), the proxy closes or `timeout` passes (then false; `closed` says
// which). `pending` keeps a partial message for the next call.
bool read_until(const raw_client& c, std::string& pending, bool& closed,
                std::chrono::seconds timeout,
                const std::function<bool(char, const std::string&)>& take,
                std::size_t chunk = 64 * 1024) {
  closed = false;
  for (auto until = std::chrono::steady_clock::now() + timeout;
       !closed && std::chrono::steady_clock::now() < until;) {
    pending += c.read_some(chunk, 1s, closed);
    for (const auto& [type, body] : take_messages(pending))
      if (take(type, body)) return true;
  }
  return false;
}

// Until ReadyForQuery; any ErrorResponse fails the test.
bool until_ready(const raw_client& c, std::string& pending, bool& closed) {
  return read_until(c, pending, closed, 60s, [](char type, const std::string& body) {
    INFO(body);
    REQUIRE(type != 'E');
    return type == 'Z';
  });
}

// A raw client logged in through the proxy's unix socket, at its first ReadyForQuery.
void log_in(raw_client& c) {
  REQUIRE(c.fd >= 0);
  std::string params("user\0anyone\0database\0appdb\0\0", 28);
  c.send(be32(static_cast<std::uint32_t>(8 + params.size())) + be32(196608) + params);
  std::string pending;
  bool closed = false;
  INFO("waited for ReadyForQuery after the login");
  REQUIRE(until_ready(c, pending, closed));
}

// Sends all of `bytes`, waiting for room as a blocking client does.
void send_all(const raw_client& c, const std::string& bytes) {
  for (std::size_t at = 0; at < bytes.size();) {
    auto n = ::send(c.fd, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
    REQUIRE(n > 0);
    at += static_cast<std::size_t>(n);
  }
}

std::string copy_data(const std::string& row) {
  return "d" + be32(static_cast<std::uint32_t>(4 + row.size())) + row;
}

// Backends of the grant's role still connected to the server.
int backends(const rig& r) {
  return std::stoi(
      r.pg.psql("select count(*) from pg_stat_activity where usename = '" + r.role + "'"));
}

}  // namespace

TEST_CASE("bulk copies reach a slow reader and a slow server whole and in order",
          "[proxy][relay]") {
  rig r;
  raw_client c(r.proxy->socket_path().string());
  log_in(c);

  // Out: 40,000 rows of ~500 bytes (20 MB) to a client that first reads nothing at all, so
  // the proxy's writes to it would block and it has to stop reading the server meanwhile.
  constexpr int rows = 40000;
  c.send(query_message("copy (select g, repeat('x', 500) from generate_series(1, " +
                       std::to_string(rows) + ") g) to stdout"));
  std::this_thread::sleep_for(500ms);
  std::string pending;
  bool closed = false;
  int seen = 0;
  std::string complete;
  bool ready = read_until(c, pending, closed, 60s, [&](char type, const std::string& body) {
    if (type == 'd') {
      ++seen;
      // Each row whole and in order: a byte lost or repeated anywhere breaks this.
      REQUIRE(body == std::to_string(seen) + "\t" + std::string(500, 'x') + "\n");
      // Slow at first as well: small pauses between the first rows.
      if (seen < 200) std::this_thread::sleep_for(5ms);
    } else if (type == 'C') {
      complete = body;
    } else {
      REQUIRE((type == 'H' || type == 'c' || type == 'Z'));
    }
    return type == 'Z';
  });
  CHECK_FALSE(closed);
  REQUIRE(ready);
  CHECK(seen == rows);
  CHECK(complete == "COPY " + std::to_string(rows) + std::string(1, '\0'));

  // In: 30 MB of COPY data sent as fast as the sockets take it; the server parses and
  // stores slower than that, so the proxy's writes to it would block.
  c.send(query_message("create table bulk_in (id int, v text)"));
  c.send(query_message("copy bulk_in from stdin"));
  bool copy_in = read_until(c, pending, closed, 10s, [](char type, const std::string& body) {
    INFO(body);
    REQUIRE(type != 'E');
    return type == 'G';
  });
  REQUIRE(copy_in);
  constexpr int in_rows = 30000;
  std::string batch;
  for (int i = 1; i <= in_rows; ++i) {
    batch += copy_data(std::to_string(i) + "\t" + std::string(1000, 'a' + i % 26) + "\n");
    if (batch.size() > 256 * 1024) {
      send_all(c, batch);
      batch.clear();
    }
  }
  batch += "c" + be32(4);
  send_all(c, batch);
  complete.clear();
  ready = read_until(c, pending, closed, 60s, [&](char type, const std::string& body) {
    INFO(body);
    REQUIRE(type != 'E');
    if (type == 'C') complete = body;
    return type == 'Z';
  });
  REQUIRE(ready);
  CHECK(complete == "COPY " + std::to_string(in_rows) + std::string(1, '\0'));
  CHECK(r.pg.psql("select count(*), sum(id), sum(length(v)), "
                  "bool_and(v = repeat(chr(97 + id % 26), 1000)) from bulk_in",
                  "appdb") == "30000|450015000|30000000|t");
}

TEST_CASE("pipelined queries come back whole and in order", "[proxy][relay]") {
  rig r;
  raw_client c(r.proxy->socket_path().string());
  log_in(c);
  // 5,000 queries in one go, far more than one read of the proxy takes.
  constexpr int queries = 5000;
  std::string all;
  for (int i = 1; i <= queries; ++i) all += query_message("select " + std::to_string(i));
  send_all(c, all);
  std::string pending;
  bool closed = false;
  int ready = 0;
  int last = 0;
  read_until(c, pending, closed, 60s, [&](char type, const std::string& body) {
    INFO(body);
    REQUIRE(type != 'E');
    if (type == 'D') {
      // DataRow: 1 column, its length, the value.
      REQUIRE(body.size() >= 6);
      int value = std::stoi(body.substr(6));
      REQUIRE(value == last + 1);
      last = value;
    }
    ready += type == 'Z';
    return ready == queries;
  });
  CHECK_FALSE(closed);
  CHECK(ready == queries);
  CHECK(last == queries);
}

TEST_CASE("a cut while the client reads nothing ends both sides within the grace",
          "[proxy][relay]") {
  rig r;
  raw_client c(r.proxy->socket_path().string());
  log_in(c);
  // A result far bigger than the socket buffers, never read: the proxy's write to the client
  // stays pending, and the FATAL can never go out.
  c.send(query_message("select repeat(chr(120), 1000) from generate_series(1, 100000)"));
  r.pg.wait_running("select repeat(chr(120), 1000) from generate_series(1, 100000)", 1, 10s);
  std::this_thread::sleep_for(200ms);  // let the sockets fill; the bound below is the test
  auto cut = std::chrono::steady_clock::now();
  r.watch->end(proxy::end_cause::revoked);
  {
    INFO("waited for the session to end; active: " << r.proxy->counters().active.load());
    REQUIRE(test::wait_until([&] { return r.proxy->counters().active.load() == 0; }, 5s));
  }
  auto ended = std::chrono::steady_clock::now();
  CHECK(ended - cut < 1500ms);
  CHECK(r.proxy->counters().cut.load() == 1);
  // The client socket is closed: after what was buffered, EOF.
  bool closed = false;
  for (auto until = std::chrono::steady_clock::now() + 10s;
       !closed && std::chrono::steady_clock::now() < until;)
    (void)c.read_some(256 * 1024, 1s, closed);
  CHECK(closed);
  INFO("waited for the server's backend to go");
  CHECK(test::wait_until([&] { return backends(r) == 0; }, 10s));
}

TEST_CASE("stopping the proxy closes relayed sessions at once, in every state", "[proxy][relay]") {
  rig r;
  db_conn idle(r.socket_conninfo());
  REQUIRE(idle.ok());
  db_conn busy(r.tcp_conninfo(r.tcp_password));
  REQUIRE(busy.ok());
  // So that the backend in pg_sleep notices its connection closed, as the check below needs.
  PQclear(PQexec(busy.c, "set client_connection_check_interval = 100"));
  REQUIRE(busy.value("show client_connection_check_interval") == "100ms");
  REQUIRE(PQsendQuery(busy.c, "select pg_sleep(60)") == 1);
  raw_client slow(r.proxy->socket_path().string());
  log_in(slow);
  slow.send(query_message("select repeat(chr(120), 1000) from generate_series(1, 100000)"));
  r.pg.wait_running("select pg_sleep(60)");
  r.pg.wait_running("select repeat(chr(120), 1000) from generate_series(1, 100000)", 1, 10s);
  REQUIRE(r.proxy->counters().active.load() == 3);

  auto start = std::chrono::steady_clock::now();
  r.proxy->stop();
  auto stopped = std::chrono::steady_clock::now();
  CHECK(stopped - start < 1s);
  CHECK(r.proxy->counters().active.load() == 0);
  PGresult* res = PQgetResult(busy.c);
  CHECK(PQresultStatus(res) == PGRES_FATAL_ERROR);
  PQclear(res);
  CHECK(idle.value("select 1").find("ERROR") == 0);
  bool gone = test::wait_until([&] { return backends(r) == 0; }, 10s);
  INFO("waited for the server's backends to go; left: "
       << r.pg.psql("select state, query from pg_stat_activity where usename = '" + r.role + "'"));
  CHECK(gone);
}
