// What the proxy's integration tests share: a grant and a proxy on a real PostgreSQL 15
// (rig), a libpq connection, psql, and a raw client socket with backend-message parsing for
// bytes and timings no real client would produce.
#pragma once

#include <libpq-fe.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/secrets.hpp"
#include "proxy/server.hpp"
#include "tests/proxy/pg/wire.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/process.hpp"
#include "tests/support/ready_clock.hpp"

namespace apono::test::proxy_test {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

/// The PostgreSQL 15 client program `name` (psql, pgbench), wherever Debian put it.
inline std::string client_bin(const std::string& name) {
  for (const char* dir : {"/usr/lib/postgresql/15/bin/", "/usr/bin/"}) {
    if (fs::exists(std::string(dir) + name)) return std::string(dir) + name;
  }
  return name;
}

/// A grant on database appdb, a role for it, and a proxy for it.
struct rig {
  test::pg_fixture pg;
  test::temp_dir dir{"apono-proxy"};
  test::ready_clock clock;  // runs from construction unless the test holds it
  std::string role = "apono_t_" + common::random_lower_alnum(6);
  std::string password = common::random_password(20);
  std::string tcp_password = common::random_password(16);
  std::unique_ptr<proxy::grant_watch> watch;
  std::unique_ptr<proxy::proxy_server> proxy;
  std::vector<std::string> log;
  std::mutex log_mutex;

  // With `hold`, the grant's `lifetime` starts when the test calls clock.release().
  explicit rig(std::chrono::milliseconds lifetime = 10min,
               std::vector<std::chrono::milliseconds> warnings = {}, bool hold = false) {
    if (!hold) clock.release();
    pg.psql("CREATE DATABASE appdb");
    pg.psql("CREATE ROLE " + role + " LOGIN PASSWORD '" + password + "'");
    pg.psql("GRANT ALL ON SCHEMA public TO " + role, "appdb");
    watch = std::make_unique<proxy::grant_watch>("AR-00001", clock.now() + lifetime, clock);
    proxy::proxy_options o;
    o.upstream = {"127.0.0.1", pg.port(), "prefer", {}, {{"appdb", role, password}}};
    o.unix_dir = dir.path / "run";
    o.tcp_port = 0;
    o.tcp_password = tcp_password;
    o.warnings = std::move(warnings);
    o.log = [this](const std::string& line) {
      std::lock_guard lock(log_mutex);
      log.push_back(line);
    };
    proxy = std::make_unique<proxy::proxy_server>(std::move(o), *watch);
    proxy->start();
  }
  [[nodiscard]] std::string socket_dir() const { return (dir.path / "run").string(); }
  [[nodiscard]] std::string socket_conninfo(const std::string& db = "appdb") const {
    return "host=" + socket_dir() + " port=5432 dbname=" + db + " user=anyone";
  }
  [[nodiscard]] std::string tcp_conninfo(const std::string& pw) const {
    return "host=127.0.0.1 port=" + std::to_string(proxy->tcp_port()) +
           " dbname=appdb user=anyone sslmode=disable password=" + pw;
  }
};

/// A libpq connection, finished when it goes.
struct db_conn {
  PGconn* c;
  explicit db_conn(const std::string& conninfo) : c(PQconnectdb(conninfo.c_str())) {}
  ~db_conn() { PQfinish(c); }
  db_conn(const db_conn&) = delete;
  db_conn& operator=(const db_conn&) = delete;
  [[nodiscard]] bool ok() const { return PQstatus(c) == CONNECTION_OK; }
  [[nodiscard]] std::string error() const { return PQerrorMessage(c); }
  // One value of a one-row query, or "ERROR: ..." when it failed.
  std::string value(const std::string& sql) {
    PGresult* r = PQexec(c, sql.c_str());
    std::string out = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0
                          ? PQgetvalue(r, 0, 0)
                          : "ERROR: " + std::string(PQerrorMessage(c));
    PQclear(r);
    return out;
  }
};

/// psql with ON_ERROR_STOP against `conninfo`, with extra arguments and stdin.
inline test::run_result psql(const std::string& conninfo, const std::vector<std::string>& args,
                             const std::string& input = {}) {
  std::vector<std::string> argv{client_bin("psql"), "-X", "-v", "ON_ERROR_STOP=1", "-d", conninfo};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run(argv, input);
}

/// A raw client socket on the proxy's unix socket, for bytes no real client would send.
struct raw_client {
  int fd = -1;
  explicit raw_client(const std::string& path) {
    fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ~raw_client() {
    if (fd >= 0) ::close(fd);
  }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;
  void send(const std::string& bytes) const {
    (void)!::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }
  // Everything the proxy sends until it closes (or `timeout`); `closed` says which.
  std::string read_all(std::chrono::milliseconds timeout, bool& closed) const {
    std::string out;
    closed = false;
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left <= 0ms) return out;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return out;
      char buf[4096];
      auto n = ::read(fd, buf, sizeof buf);
      if (n <= 0) {
        closed = true;
        return out;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  // At most `max` bytes, whatever arrives first within `timeout`; `closed` on EOF.
  std::string read_some(std::size_t max, std::chrono::milliseconds timeout, bool& closed) const {
    closed = false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
    std::string out(max, '\0');
    auto n = ::read(fd, out.data(), max);
    if (n <= 0) {
      closed = true;
      return {};
    }
    out.resize(static_cast<std::size_t>(n));
    return out;
  }
};

/// The big-endian int32 at `p`.
inline std::uint32_t read_be32(const char* p) {
  auto b = [p](int i) { return std::uint32_t{static_cast<unsigned char>(p[i])}; };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

/// Moves every whole backend message out of the front of `pending` as (type, body); a
// partial message stays there for the next read.
inline std::vector<std::pair<char, std::string>> take_messages(std::string& pending) {
  std::vector<std::pair<char, std::string>> out;
  std::size_t at = 0;
  while (pending.size() - at >= 5) {
    std::size_t len = read_be32(pending.data() + at + 1);
    if (pending.size() - at < 1 + len) break;
    out.emplace_back(pending[at], pending.substr(at + 5, len - 4));
    at += 1 + len;
  }
  pending.erase(0, at);
  return out;
}

/// One field of an ErrorResponse body ('S' severity, 'C' SQLSTATE, 'M' message), or "".
inline std::string error_field(const std::string& body, char code) {
  for (std::size_t at = 0; at < body.size() && body[at] != '\0';) {
    auto end = body.find('\0', at + 1);
    if (end == std::string::npos) break;
    if (body[at] == code) return body.substr(at + 1, end - at - 1);
    at = end + 1;
  }
  return {};
}

/// A simple-protocol Query message.
inline std::string query_message(const std::string& sql) {
  return "Q" + be32(static_cast<std::uint32_t>(4 + sql.size() + 1)) + sql + std::string(1, '\0');
}

}  // namespace apono::test::proxy_test
