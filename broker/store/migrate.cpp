// SQLite -> PostgreSQL, row for row. The two schemas are kept alike on purpose (times in
// milliseconds, statuses by name, sealed secrets with their key ids), so a row is copied as it
// is: only booleans change type, and `user` (reserved in PostgreSQL) becomes `username`.
// Sealed secrets stay sealed: they are bound to their unit id, which is kept.
#include "broker/store/migrate.hpp"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <optional>
#include <stdexcept>
#include <vector>

#include "broker/store/postgres_store.hpp"
#include "broker/store/sqlite_store.hpp"

namespace apono::broker {
namespace {

// One table's copy: the source's columns, the target's, and which are booleans.
struct table_map {
  const char* name;
  std::vector<const char*> from;
  std::vector<const char*> to;
  std::vector<bool> boolean;
  bool has_sequence;
  bool replace{};  // the target's migration made rows of its own (the notify cursor): drop them
};

const std::vector<table_map>& tables() {
  static const std::vector<table_map> t = {
      {"requests",
       {"id", "requester", "integration", "resource_type", "bundle", "duration_s", "justification",
        "status", "end_reason", "flow", "automatic", "created_at", "updated_at", "active_from",
        "ends_at", "decided_by", "reason"},
       {"id", "requester", "integration", "resource_type", "bundle", "duration_s", "justification",
        "status", "end_reason", "flow", "automatic", "created_at", "updated_at", "active_from",
        "ends_at", "decided_by", "reason"},
       {false, false, false, false, false, false, false, false, false, false, true, false, false,
        false, false, false, false},
       true},
      {"units",
       {"id", "request_id", "integration", "resource_type", "resource", "permission", "status",
        "login", "secret", "secret_key_id", "attempts", "next_attempt_at", "last_error"},
       {"id", "request_id", "integration", "resource_type", "resource", "permission", "status",
        "login", "secret", "secret_key_id", "attempts", "next_attempt_at", "last_error"},
       std::vector<bool>(13, false),
       true},
      {"audit",
       {"id", "at", "actor", "action", "request_id", "status", "detail"},
       {"id", "at", "actor", "action", "request_id", "status", "detail"},
       std::vector<bool>(7, false),
       true},
      {"api_tokens",
       {"hash", "user", "created_at", "last_used_at", "revoked_at", "description", "expires_at"},
       {"hash", "username", "created_at", "last_used_at", "revoked_at", "description",
        "expires_at"},
       std::vector<bool>(7, false),
       false},
      {"login_failures",
       {"subject", "window_start", "failures"},
       {"subject", "window_start", "failures"},
       std::vector<bool>(3, false),
       false},
      {"auth_codes",
       {"code_hash", "user", "challenge", "redirect_uri", "expires_at", "used"},
       {"code_hash", "username", "challenge", "redirect_uri", "expires_at", "used"},
       {false, false, false, false, false, true},
       false},
      {"browser_sessions",
       {"hash", "user", "created_at", "last_seen_at", "expires_at"},
       {"hash", "username", "created_at", "last_seen_at", "expires_at"},
       std::vector<bool>(5, false),
       false},
      {"notify_cursor",
       {"id", "last_audit_id"},
       {"id", "last_audit_id"},
       std::vector<bool>(2, false),
       false,
       true},
      {"deliveries",
       {"id", "endpoint", "channel", "audit_id", "request_id", "event_type", "webhook_id",
        "payload", "status", "attempts", "next_attempt_at", "give_up_at", "last_error",
        "last_http_status", "created_at", "delivered_at"},
       {"id", "endpoint", "channel", "audit_id", "request_id", "event_type", "webhook_id",
        "payload", "status", "attempts", "next_attempt_at", "give_up_at", "last_error",
        "last_http_status", "created_at", "delivered_at"},
       std::vector<bool>(16, false),
       true},
      {"notify_endpoints",
       {"name", "disabled_at", "disabled_reason"},
       {"name", "disabled_at", "disabled_reason"},
       std::vector<bool>(3, false),
       false},
      // The Slack messages posted, so the copies keep being updated after the move. The
      // requests from Slack seen (slack_requests_seen) are not copied: a migration takes the
      // broker down for longer than their 5-minute window.
      {"slack_messages",
       {"webhook_id", "request_id", "user", "role", "channel", "ts", "created_at"},
       {"webhook_id", "request_id", "username", "role", "channel", "ts", "created_at"},
       std::vector<bool>(7, false),
       false},
  };
  return t;
}

std::string first_line(const char* s) {
  std::string out = s ? s : "";
  if (auto nl = out.find('\n'); nl != std::string::npos) out.resize(nl);
  return out;
}

class pg {
 public:
  explicit pg(const std::string& url) {
    const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {"10", "aponod store migrate", url.c_str(), nullptr};
    c_ = PQconnectdbParams(keys, values, 1);
    if (!c_ || PQstatus(c_) != CONNECTION_OK)
      throw std::runtime_error("cannot reach the PostgreSQL store: " +
                               first_line(c_ ? PQerrorMessage(c_) : "out of memory"));
  }
  ~pg() { PQfinish(c_); }
  pg(const pg&) = delete;
  pg& operator=(const pg&) = delete;

  /// Runs `sql` with text parameters; returns the first column of the first row, if any.
  std::optional<std::string> exec(const std::string& sql,
                                  const std::vector<std::optional<std::string>>& params = {}) {
    std::vector<const char*> p;
    for (const auto& v : params) p.push_back(v ? v->c_str() : nullptr);
    PGresult* r = PQexecParams(c_, sql.c_str(), static_cast<int>(p.size()), nullptr, p.data(),
                               nullptr, nullptr, 0);
    auto st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      auto msg = first_line(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
      PQclear(r);
      throw std::runtime_error("PostgreSQL store: " + (msg.empty() ? "query failed" : msg));
    }
    std::optional<std::string> out;
    if (PQntuples(r) > 0 && PQnfields(r) > 0 && !PQgetisnull(r, 0, 0)) out = PQgetvalue(r, 0, 0);
    PQclear(r);
    return out;
  }

 private:
  PGconn* c_ = nullptr;
};

class lite {
 public:
  explicit lite(const std::filesystem::path& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw std::runtime_error("cannot open " + path.string() + ": " + msg);
    }
    sqlite3_busy_timeout(db_, 5000);
  }
  ~lite() { sqlite3_close(db_); }
  lite(const lite&) = delete;
  lite& operator=(const lite&) = delete;

  /// Calls `row` with each row's values as text (nullopt for NULL).
  template <class F>
  void each(const std::string& sql, F&& row) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("SQLite store: ") + sqlite3_errmsg(db_));
    int rc = 0;
    std::vector<std::optional<std::string>> values;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      values.clear();
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        if (sqlite3_column_type(s, i) == SQLITE_NULL) {
          values.emplace_back(std::nullopt);
        } else {
          auto p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
          values.emplace_back(std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i))));
        }
      }
      row(values);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
      throw std::runtime_error(std::string("SQLite store: ") + sqlite3_errmsg(db_));
  }

  std::int64_t count(const std::string& table) {
    std::int64_t n = 0;
    each("SELECT count(*) FROM " + table, [&](const auto& v) { n = std::stoll(*v[0]); });
    return n;
  }

 private:
  sqlite3* db_ = nullptr;
};

std::string join(const std::vector<const char*>& cols) {
  std::string out;
  for (const auto* c : cols) out += std::string(out.empty() ? "" : ", ") + c;
  return out;
}

}  // namespace

migration_report migrate_sqlite_to_postgres(const std::filesystem::path& sqlite_path,
                                            const std::string& postgres_url,
                                            std::shared_ptr<const secret_box> keys) {
  if (!std::filesystem::exists(sqlite_path))
    throw std::runtime_error(sqlite_path.string() + " does not exist");
  // Both ends at the current schema: the source migrated in place (what its broker would do
  // at its next start), the target created.
  { sqlite_store upgrade(sqlite_path); }
  postgres_store_options target_options;
  target_options.url = postgres_url;
  target_options.pool_size = 2;
  target_options.keys = keys;
  postgres_store target(target_options);

  lite src(sqlite_path);
  pg dst(postgres_url);
  auto existing = dst.exec(
      "SELECT (SELECT count(*) FROM requests) + (SELECT count(*) FROM audit) + "
      "(SELECT count(*) FROM api_tokens)");
  if (existing && *existing != "0")
    throw std::runtime_error("the PostgreSQL store is not empty: migrate into a new database");

  migration_report report;
  dst.exec("BEGIN");
  try {
    for (const auto& t : tables()) {
      std::string insert = std::string("INSERT INTO ") + t.name + "(" + join(t.to) + ") VALUES(";
      for (std::size_t i = 0; i < t.to.size(); ++i)
        insert += (i ? ",$" : "$") + std::to_string(i + 1);
      insert += ")";
      std::int64_t copied = 0;
      if (t.replace) dst.exec(std::string("DELETE FROM ") + t.name);
      src.each(std::string("SELECT ") + join(t.from) + " FROM " + t.name + " ORDER BY rowid",
               [&](std::vector<std::optional<std::string>>& v) {
                 for (std::size_t i = 0; i < v.size(); ++i)
                   if (t.boolean[i] && v[i]) v[i] = (*v[i] == "0") ? "false" : "true";
                 dst.exec(insert, v);
                 ++copied;
               });
      if (t.has_sequence)
        dst.exec(std::string("SELECT setval(pg_get_serial_sequence('") + t.name +
                 "', 'id'), coalesce(max(id), 1), max(id) IS NOT NULL) FROM " + t.name);
      report.rows[t.name] = copied;
    }
    dst.exec("COMMIT");
  } catch (...) {
    try {
      dst.exec("ROLLBACK");
    } catch (const std::exception&) {
    }
    throw;
  }

  for (const auto& t : tables()) {
    auto at_source = src.count(t.name);
    auto at_target = std::stoll(dst.exec(std::string("SELECT count(*) FROM ") + t.name).value());
    if (at_source != report.rows[t.name] || at_target != at_source)
      throw std::runtime_error(std::string("table ") + t.name + ": " + std::to_string(at_source) +
                               " rows in SQLite, " + std::to_string(at_target) + " in PostgreSQL");
  }
  // Every secret must open with the keys the new store will use, or its grants could not be
  // handed out or ended there.
  if (keys && keys->has_keys()) report.sealed_now = target.reseal_secrets();
  std::vector<std::int64_t> with_secret;
  src.each("SELECT id FROM units WHERE secret <> ''",
           [&](const auto& v) { with_secret.push_back(std::stoll(*v[0])); });
  for (auto id : with_secret) target.read([&](store_tx& tx) { (void)tx.get_unit_state(id); });
  report.secrets_checked = with_secret.size();
  return report;
}

}  // namespace apono::broker
