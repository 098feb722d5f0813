// The shell's libpq connection, driven asynchronously (PQconnectStartParams, PQsendQuery,
// PQconsumeInput) so every wait also watches the end of access and Ctrl-C.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>

#include "launchers/shell/waiter.hpp"

namespace apono::launchers::shell {

/// Frees a PGresult.
struct result_deleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
/// An owned PGresult.
using pg_result = std::unique_ptr<PGresult, result_deleter>;

/// How a connection attempt or a wait for a result ended.
enum class outcome {
  ok,            ///< connected, or a result (or the end of results) is there
  failed,        ///< could not connect: error() says why
  access_ended,  ///< the grant ended while waiting
  lost,          ///< the connection dropped while waiting: lost_message() has libpq's words
};

/// One libpq connection.
class connection {
 public:
  /// `wait` decides how long anything may block.
  explicit connection(const waiter& wait) : wait_(wait) {}
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Connects with a libpq conninfo string or URI; `client_encoding` may be null (server's).
  [[nodiscard]] outcome connect(const std::string& conninfo, const char* client_encoding);
  /// libpq's message for the failed connect, without its trailing newline.
  [[nodiscard]] std::string error() const;

  /// Sends one query string (which may hold several statements); false if it could not be sent.
  [[nodiscard]] bool send(const std::string& sql);
  /// The next result of the query being run, or null when there are no more. Ctrl-C sends a
  /// cancel request and keeps waiting, as psql does; interrupted() tells it happened.
  /// A connection that drops ends in outcome::lost rather than an error result, because
  /// libpq's PQgetResult would add "invalid socket" to what psql shows.
  [[nodiscard]] outcome next_result(pg_result& out);
  /// Waits until the server sends more (Ctrl-C sends a cancel request meanwhile) and reads it;
  /// for COPY TO STDOUT, where PQgetCopyData says to wait.
  [[nodiscard]] outcome read_input();
  /// Reads what the server sent while no query runs, so that notices (the proxy's warnings
  /// before the end of access) reach the notice processor now rather than at the next query.
  /// False once the connection has dropped: the next query reports it, as psql would.
  [[nodiscard]] bool read_idle();
  /// What libpq said about the dropped connection, e.g. "server closed the connection
  /// unexpectedly ..." (the part no result carried yet).
  [[nodiscard]] std::string lost_message() const;
  /// True when Ctrl-C was pressed during the last query.
  [[nodiscard]] bool interrupted() const { return interrupted_; }

  /// The raw handle (never null after a successful connect).
  [[nodiscard]] PGconn* get() const { return conn_; }
  /// True when the connection has dropped.
  [[nodiscard]] bool lost() const { return conn_ == nullptr || PQstatus(conn_) == CONNECTION_BAD; }

 private:
  void cancel();

  const waiter& wait_;
  PGconn* conn_ = nullptr;
  PGcancel* cancel_ = nullptr;
  bool interrupted_ = false;
  std::size_t reported_ = 0;  // how much of PQerrorMessage results have carried
};

}  // namespace apono::launchers::shell
