// query_database's engine: the local proxies of the grants the model queries (the same
// local_access `apono access connect` starts, so the password never leaves this process),
// and one SQL statement through one of them with a row limit and a statement timeout.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "cli/context.hpp"
#include "cli/local_access.hpp"
#include "cli/mcp/tool_registry.hpp"

namespace apono::cli::mcp {

/// True for the permission names that grant reading only (read_only, readonly, read-only,
/// ro, read): the runner then also opens its transactions read-only.
[[nodiscard]] bool is_read_only_permission(std::string_view name);

/// The local proxies started so far, one per request and database, kept until the server
/// ends so a grant that ended is still known as ended.
class grant_sessions {
 public:
  /// The running proxy for request `id` and `database` ("" = the grant's first), started on
  /// first use. Throws tool_error with the end-of-access message the shell prints once a
  /// proxy of this request saw access end.
  std::shared_ptr<local_access> open(const global_options& g, const std::string& id,
                                     const std::string& database);
  /// The end-of-access message when a proxy of request `id` saw access end.
  [[nodiscard]] std::optional<std::string> ended(const std::string& id);
  /// Ends request `id`'s proxies now (it was revoked through this server).
  void end(const std::string& id);
  /// Stops every proxy.
  void clear();

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<local_access>> open_;  // "id\ndatabase"
};

/// What run_query may use.
struct query_limits {
  std::size_t row_limit = 200;                         ///< rows returned at most
  std::chrono::milliseconds statement_timeout{30000};  ///< PostgreSQL's statement_timeout
  bool read_only = false;  ///< read-only transactions even when the permission could write
};

/// A statement PostgreSQL refused, with its SQLSTATE.
class query_error : public tool_error {
 public:
  /// `message` as shown, `sqlstate` e.g. 25006.
  query_error(const std::string& message, std::string sqlstate)
      : tool_error(message), sqlstate_(std::move(sqlstate)) {}
  /// The SQLSTATE; 25006 is a write refused by a read-only transaction.
  [[nodiscard]] const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

/// Runs `sql` (one statement: the extended protocol refuses several) on `access`'s database
/// as its short-lived login, through its proxy. Returns {request_id, database, permission,
/// command, columns, rows, row_count, truncated, row_limit, notices}. Throws tool_error with
/// PostgreSQL's message when the statement fails (a query_error), and with the end-of-access
/// message when the grant ends before or while it runs; `cancel` cancels the statement at the
/// server.
[[nodiscard]] boost::json::object run_query(local_access& access, const std::string& sql,
                                            const query_limits& limits, const cancel_token& cancel);

}  // namespace apono::cli::mcp

namespace apono::cli::mcp {

/// True when every database unit of the user's ACTIVE grants has a read-only permission (and
/// there is one), false otherwise, none when the broker cannot be asked.
[[nodiscard]] std::optional<bool> database_grants_read_only(const global_options& g);

}  // namespace apono::cli::mcp
