// A throwaway PostgreSQL server for tests: initdb in a temp dir, a free loopback port, run
// as the `postgres` user when we are root (PostgreSQL refuses root), stopped and deleted in
// the destructor, which runs also when a test fails.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

namespace apono::test {

/// A running PostgreSQL 15 on 127.0.0.1 with a superuser `postgres` (password auth over TCP).
class pg_fixture {
 public:
  /// Starts the server; throws std::runtime_error with initdb/pg_ctl's output on failure.
  /// With `tls`, the server also speaks TLS with a certificate for IP 127.0.0.1 only,
  /// signed by a CA of its own (ca_pem()).
  explicit pg_fixture(bool tls = false);
  ~pg_fixture();
  pg_fixture(const pg_fixture&) = delete;
  pg_fixture& operator=(const pg_fixture&) = delete;
  /// Stops the server at once (`pg_ctl stop -m immediate`: like a crash, clients cut).
  void stop();
  /// Starts it again after stop(), on the same port and data; waits until it accepts.
  void start();
  /// The PEM of the CA that signed the server certificate (tls fixtures only).
  [[nodiscard]] std::string ca_pem() const;
  /// The TCP port.
  [[nodiscard]] int port() const { return port_; }
  /// The server's unix socket (local connections are trusted).
  [[nodiscard]] std::filesystem::path socket_path() const {
    return dir_ / (".s.PGSQL." + std::to_string(port_));
  }
  /// Superuser connection URI, e.g. postgresql://postgres:PW@127.0.0.1:PORT/postgres.
  [[nodiscard]] std::string admin_url(const std::string& db = "postgres") const;
  /// Runs SQL as the superuser with psql; returns stdout (unaligned, tuples only); throws
  /// with psql's stderr on failure.
  std::string psql(const std::string& sql, const std::string& db = "postgres") const;
  /// Waits until at least `count` backends are running exactly `query` (a client's wait on the
  /// server has begun); throws, saying what it waited for and saw, when `timeout` passes first.
  void wait_running(const std::string& query, int count = 1,
                    std::chrono::milliseconds timeout = std::chrono::seconds{30}) const;
  /// Runs SQL with psql as `user`/`password`; returns {exit status, stdout+stderr}.
  [[nodiscard]] std::pair<int, std::string> psql_as(const std::string& user,
                                                    const std::string& password,
                                                    const std::string& db,
                                                    const std::string& sql) const;

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  std::string password_;
};

}  // namespace apono::test
