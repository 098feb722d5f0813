// SQLite store. Times are integer milliseconds since the epoch; statuses are their wire names.
// synchronous=NORMAL in WAL mode survives a killed process (the case the scheduler's crash
// recovery is about); only a power loss could drop the last commits.
#include "broker/store/sqlite_store.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace apono::broker {

using common::status;

namespace {

// Each entry moves the schema one version forward; never edit one that has shipped.
constexpr const char* migrations[] = {
    R"sql(
CREATE TABLE requests(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  requester TEXT NOT NULL,
  integration TEXT NOT NULL DEFAULT '',
  resource_type TEXT NOT NULL DEFAULT '',
  bundle TEXT NOT NULL DEFAULT '',
  duration_s INTEGER NOT NULL,
  justification TEXT NOT NULL,
  status TEXT NOT NULL,
  end_reason TEXT NOT NULL DEFAULT '',
  flow TEXT NOT NULL,
  automatic INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  active_from INTEGER,
  ends_at INTEGER,
  decided_by TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '');
CREATE INDEX requests_status ON requests(status, ends_at);
CREATE INDEX requests_requester ON requests(requester, created_at);
CREATE TABLE units(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id INTEGER NOT NULL REFERENCES requests(id),
  integration TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource TEXT NOT NULL,
  permission TEXT NOT NULL,
  status TEXT NOT NULL,
  login TEXT NOT NULL DEFAULT '',
  secret TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '');
CREATE INDEX units_request ON units(request_id);
CREATE INDEX units_due ON units(status, next_attempt_at);
CREATE TABLE audit(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  request_id INTEGER,
  status TEXT,
  detail TEXT NOT NULL DEFAULT '{}');
CREATE INDEX audit_request ON audit(request_id, id);
)sql",
    // Browser login: API tokens and one-time authorization codes, stored as SHA-256 hex only.
    R"sql(
CREATE TABLE api_tokens(
  hash TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER,
  description TEXT);
CREATE TABLE auth_codes(
  code_hash TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  challenge TEXT NOT NULL,
  redirect_uri TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  used INTEGER NOT NULL DEFAULT 0);
)sql",
    // Secrets at rest: the key that sealed units.secret; '' for a secret stored in the clear
    // before this version (sealed at the next start).
    R"sql(
ALTER TABLE units ADD COLUMN secret_key_id TEXT NOT NULL DEFAULT '';
)sql",
    // Logins at scale: tokens expire (those issued before get 30 days from their issue), and
    // failed sign-ins are counted where every replica sees them.
    R"sql(
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;
UPDATE api_tokens SET expires_at = created_at + 2592000000 WHERE expires_at IS NULL;
CREATE TABLE login_failures(
  subject TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL,
  failures INTEGER NOT NULL);
)sql",
    // The web portal's browser sessions, by the SHA-256 hex of the cookie's secret.
    R"sql(
CREATE TABLE browser_sessions(
  hash TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL);
)sql",
    // Notifications: the fan-out's cursor into the audit trail (starting at its end, so no
    // history is replayed), the deliveries it makes, and the endpoints disabled (410 Gone).
    R"sql(
CREATE TABLE notify_cursor(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  last_audit_id INTEGER NOT NULL);
INSERT INTO notify_cursor(id, last_audit_id) SELECT 1, coalesce(max(id), 0) FROM audit;
CREATE TABLE deliveries(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  endpoint TEXT NOT NULL,
  channel TEXT NOT NULL,
  audit_id INTEGER NOT NULL,
  request_id INTEGER,
  event_type TEXT NOT NULL,
  webhook_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  give_up_at INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  last_http_status INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  delivered_at INTEGER,
  UNIQUE(endpoint, audit_id, event_type));
CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at);
CREATE INDEX deliveries_pending_order ON deliveries(endpoint, request_id, id)
  WHERE status = 'pending';
CREATE TABLE notify_endpoints(
  name TEXT PRIMARY KEY,
  disabled_at INTEGER,
  disabled_reason TEXT NOT NULL DEFAULT '');
)sql",
    // Slack: requests from Slack seen within their 5-minute window (a replay to any replica is
    // refused), and the messages posted, so later events update them or reply in their thread.
    R"sql(
CREATE TABLE slack_requests_seen(
  key TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL);
CREATE INDEX slack_requests_seen_expiry ON slack_requests_seen(expires_at);
CREATE TABLE slack_messages(
  webhook_id TEXT PRIMARY KEY,
  request_id INTEGER NOT NULL,
  user TEXT NOT NULL,
  role TEXT NOT NULL,
  channel TEXT NOT NULL,
  ts TEXT NOT NULL,
  created_at INTEGER NOT NULL);
CREATE INDEX slack_messages_request ON slack_messages(request_id, created_at);
)sql",
};

// A token's last use is written at most this often: an API call should not cost a write.
constexpr std::int64_t token_touch_interval_ms = 60 * 1000;

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw std::runtime_error("store: " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

// How many statements a connection keeps prepared. The broker's fixed statements number a few
// dozen; text made per call (none today) would only fill the cache to this bound, and beyond
// it statements are prepared and finalized each time as before.
constexpr std::size_t statement_cache_capacity = 128;

}  // namespace

/// One SQLite connection and the statements prepared on it: preparing each statement anew
/// took a tenth of the broker's CPU under load.
struct sqlite_connection {
  struct cached {
    sqlite3_stmt* statement = nullptr;
    bool in_use = false;  // a statement can be stepped by one user at a time
  };
  sqlite3* db = nullptr;
  std::unordered_map<std::string, cached> statements;

  sqlite_connection() = default;
  sqlite_connection(const sqlite_connection&) = delete;
  sqlite_connection& operator=(const sqlite_connection&) = delete;
  ~sqlite_connection() {
    for (auto& [sql, c] : statements) sqlite3_finalize(c.statement);
    sqlite3_close(db);
  }
};

/// A reader connection (`PRAGMA query_only`) and who is using it.
struct sqlite_store::reader {
  std::mutex mutex;
  sqlite_connection c;
};

namespace {

// A prepared statement, from the connection's cache when it can be; binds are 1-based like
// SQLite's. A cached statement is reset, not finalized, when this goes.
class stmt {
 public:
  stmt(sqlite_connection& c, const char* sql) : db_(c.db) {
    auto it = c.statements.find(sql);
    if (it != c.statements.end() && !it->second.in_use) {
      s_ = it->second.statement;
      in_use_ = &it->second.in_use;
      *in_use_ = true;
      return;
    }
    const bool keep = it == c.statements.end() && c.statements.size() < statement_cache_capacity;
    if (sqlite3_prepare_v3(c.db, sql, -1, keep ? SQLITE_PREPARE_PERSISTENT : 0, &s_, nullptr) !=
        SQLITE_OK) {
      sqlite3_finalize(s_);
      fail(c.db, "prepare");
    }
    if (keep) {
      in_use_ =
          &c.statements.emplace(sql, sqlite_connection::cached{s_, true}).first->second.in_use;
    }
  }
  ~stmt() {
    if (in_use_ == nullptr) {
      sqlite3_finalize(s_);
      return;
    }
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    *in_use_ = false;
  }
  stmt(const stmt&) = delete;
  stmt& operator=(const stmt&) = delete;

  stmt& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  stmt& bind_null(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }
  stmt& bind(int i, const std::optional<common::time_point>& t) {
    return t ? bind(i, common::to_unix_ms(*t)) : bind_null(i);
  }
  /// Steps once; true when a row is available.
  bool step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, "step");
  }
  void run() {
    while (step()) {
    }
  }
  std::int64_t i64(int col) { return sqlite3_column_int64(s_, col); }
  bool is_null(int col) { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string text(int col) {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col)))
             : std::string();
  }
  std::optional<common::time_point> opt_time(int col) {
    if (is_null(col)) return std::nullopt;
    return common::from_unix_ms(i64(col));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  bool* in_use_ = nullptr;  // the cache's flag when the statement is cached
};

void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error(std::string("store: ") + msg);
  }
}

status status_of(const std::string& s) {
  auto st = common::parse_status(s);
  if (!st) throw std::runtime_error("store: unknown status '" + s + "'");
  return *st;
}

constexpr const char* request_columns =
    "id, requester, integration, resource_type, bundle, duration_s, justification, status, "
    "end_reason, flow, automatic, created_at, updated_at, active_from, ends_at, decided_by, "
    "reason";

common::access_request request_row(stmt& s) {
  common::access_request r;
  r.id = s.i64(0);
  r.requester = s.text(1);
  r.integration = s.text(2);
  r.resource_type = s.text(3);
  r.bundle = s.text(4);
  r.duration = std::chrono::seconds{s.i64(5)};
  r.justification = s.text(6);
  r.state = status_of(s.text(7));
  r.end_reason = s.text(8);
  r.flow = s.text(9);
  r.automatic = s.i64(10) != 0;
  r.created_at = common::from_unix_ms(s.i64(11));
  r.updated_at = common::from_unix_ms(s.i64(12));
  r.active_from = s.opt_time(13);
  r.ends_at = s.opt_time(14);
  r.decided_by = s.text(15);
  r.reason = s.text(16);
  return r;
}

// Fills in the units of every request in `rs` with one query, however many there are.
// The ids travel as one JSON array, so every page uses the same (cached) statement.
void load_units(sqlite_connection& c, std::vector<common::access_request>& rs) {
  if (rs.empty()) return;
  std::string ids = "[";
  std::map<std::int64_t, common::access_request*> by_id;
  for (auto& r : rs) {
    ids += (by_id.empty() ? "" : ",") + std::to_string(r.id);
    by_id[r.id] = &r;
  }
  ids += "]";
  stmt s(c,
         "SELECT request_id, id, integration, resource_type, resource, permission, status, "
         "last_error FROM units WHERE request_id IN (SELECT value FROM json_each(?)) ORDER BY id");
  s.bind(1, ids);
  while (s.step()) {
    common::access_unit u;
    u.id = s.i64(1);
    u.integration = s.text(2);
    u.resource_type = s.text(3);
    u.resource = s.text(4);
    u.permission = s.text(5);
    u.state = status_of(s.text(6));
    u.last_error = s.text(7);
    by_id.at(s.i64(0))->units.push_back(std::move(u));
  }
}

constexpr const char* delivery_columns =
    "id, endpoint, channel, audit_id, request_id, event_type, webhook_id, payload, status, "
    "attempts, next_attempt_at, give_up_at, last_error, last_http_status, created_at, "
    "delivered_at";

delivery read_delivery(stmt& s, int at = 0) {
  delivery d;
  d.id = s.i64(at + 0);
  d.endpoint = s.text(at + 1);
  d.channel = s.text(at + 2);
  d.audit_id = s.i64(at + 3);
  d.request_id = s.is_null(at + 4) ? 0 : s.i64(at + 4);
  d.event_type = s.text(at + 5);
  d.webhook_id = s.text(at + 6);
  d.payload = s.text(at + 7);
  d.status = s.text(at + 8);
  d.attempts = static_cast<int>(s.i64(at + 9));
  d.next_attempt_at = common::from_unix_ms(s.i64(at + 10));
  d.give_up_at = common::from_unix_ms(s.i64(at + 11));
  d.last_error = s.text(at + 12);
  d.last_http_status = static_cast<int>(s.i64(at + 13));
  d.created_at = common::from_unix_ms(s.i64(at + 14));
  d.delivered_at = s.opt_time(at + 15);
  return d;
}

// The columns id, at, actor, action, request_id, status, detail from column `at` on.
audit_event read_audit_row(stmt& s, int at = 0) {
  audit_event ev;
  ev.id = s.i64(at);
  ev.at = common::from_unix_ms(s.i64(at + 1));
  ev.actor = s.text(at + 2);
  ev.action = s.text(at + 3);
  ev.request_id = s.is_null(at + 4) ? 0 : s.i64(at + 4);
  ev.status = s.text(at + 5);
  ev.detail = s.text(at + 6);
  return ev;
}

}  // namespace

class sqlite_store::tx final : public store_tx {
 public:
  tx(sqlite_connection& c, const secret_box* keys) : c_(c), db_(c.db), keys_(keys) {}

  /// True once this transaction replaced or wiped a unit's stored secret.
  [[nodiscard]] bool dropped_secret() const { return dropped_secret_; }

  std::optional<common::access_request> get_request(std::int64_t id) override {
    std::string sql = std::string("SELECT ") + request_columns + " FROM requests WHERE id = ?";
    stmt s(c_, sql.c_str());
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    std::vector<common::access_request> one{request_row(s)};
    load_units(c_, one);
    return std::move(one.front());
  }

  // One connection behind one mutex: every transaction already has the store to itself.
  std::optional<common::access_request> try_lock_request(std::int64_t id) override {
    return get_request(id);
  }

  std::vector<common::access_request> list_requests(const request_filter& f) override {
    std::string sql = std::string("SELECT ") + request_columns +
                      " FROM requests WHERE (?1 IS NULL OR requester = ?1)"
                      " AND (?2 IS NULL OR created_at > ?2) AND (?4 IS NULL OR id < ?4)";
    if (!f.statuses.empty()) {
      sql += " AND status IN (";
      for (std::size_t i = 0; i < f.statuses.size(); ++i)
        sql += (i ? ",'" : "'") + std::string(common::to_string(f.statuses[i])) + "'";
      sql += ")";
    }
    sql += " ORDER BY id DESC LIMIT ?3";
    stmt s(c_, sql.c_str());
    if (f.requester)
      s.bind(1, *f.requester);
    else
      s.bind_null(1);
    s.bind(2, f.created_after);
    s.bind(3, static_cast<std::int64_t>(f.limit));
    if (f.before_id)
      s.bind(4, *f.before_id);
    else
      s.bind_null(4);
    std::vector<common::access_request> out;
    while (s.step()) out.push_back(request_row(s));
    load_units(c_, out);
    return out;
  }

  void insert_request(common::access_request& r) override {
    stmt s(c_,
           "INSERT INTO requests(requester, integration, resource_type, bundle, duration_s, "
           "justification, status, end_reason, flow, automatic, created_at, updated_at, "
           "active_from, ends_at, decided_by, reason) "
           "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    s.bind(1, r.requester).bind(2, r.integration).bind(3, r.resource_type).bind(4, r.bundle);
    s.bind(5, static_cast<std::int64_t>(r.duration.count())).bind(6, r.justification);
    s.bind(7, common::to_string(r.state)).bind(8, r.end_reason).bind(9, r.flow);
    s.bind(10, std::int64_t{r.automatic ? 1 : 0});
    s.bind(11, common::to_unix_ms(r.created_at)).bind(12, common::to_unix_ms(r.updated_at));
    s.bind(13, r.active_from).bind(14, r.ends_at).bind(15, r.decided_by).bind(16, r.reason);
    s.run();
    r.id = sqlite3_last_insert_rowid(db_);
    for (auto& u : r.units) {
      stmt us(c_,
              "INSERT INTO units(request_id, integration, resource_type, resource, permission, "
              "status, last_error) VALUES(?,?,?,?,?,?,?)");
      us.bind(1, r.id).bind(2, u.integration).bind(3, u.resource_type).bind(4, u.resource);
      us.bind(5, u.permission).bind(6, common::to_string(u.state)).bind(7, u.last_error);
      us.run();
      u.id = sqlite3_last_insert_rowid(db_);
    }
  }

  void update_request(const common::access_request& r) override {
    stmt s(c_,
           "UPDATE requests SET status=?, end_reason=?, updated_at=?, active_from=?, ends_at=?, "
           "decided_by=?, reason=?, justification=? WHERE id=?");
    s.bind(1, common::to_string(r.state)).bind(2, r.end_reason);
    s.bind(3, common::to_unix_ms(r.updated_at)).bind(4, r.active_from).bind(5, r.ends_at);
    s.bind(6, r.decided_by).bind(7, r.reason).bind(8, r.justification).bind(9, r.id);
    s.run();
    if (sqlite3_changes(db_) != 1)
      throw std::runtime_error("store: no request " + std::to_string(r.id));
    for (const auto& u : r.units) {
      stmt us(c_, "UPDATE units SET status=?, last_error=? WHERE id=? AND request_id=?");
      us.bind(1, common::to_string(u.state)).bind(2, u.last_error).bind(3, u.id).bind(4, r.id);
      us.run();
    }
  }

  unit_state get_unit_state(std::int64_t unit_id) override {
    stmt s(c_,
           "SELECT request_id, login, secret, attempts, next_attempt_at, last_error, "
           "secret_key_id FROM units WHERE id = ?");
    s.bind(1, unit_id);
    if (!s.step()) throw std::runtime_error("store: no unit " + std::to_string(unit_id));
    unit_state st;
    st.unit_id = unit_id;
    st.request_id = s.i64(0);
    st.login = s.text(1);
    st.secret = open_unit_secret(keys_, unit_id, {s.text(6), s.text(2)});
    st.attempts = static_cast<int>(s.i64(3));
    st.next_attempt_at = common::from_unix_ms(s.i64(4));
    st.last_error = s.text(5);
    return st;
  }

  void put_unit_state(const unit_state& st) override {
    sealed_secret stored;
    {
      stmt old(c_, "SELECT secret, secret_key_id FROM units WHERE id = ?");
      old.bind(1, st.unit_id);
      if (old.step()) stored = {old.text(1), old.text(0)};
    }
    auto next = unit_secret_to_store(keys_, st.unit_id, stored, st.secret);
    // A secret wiped or replaced, or one in the clear sealed now: its old bytes must not
    // linger in the WAL (see transact).
    if (!stored.text.empty() && next.text != stored.text) dropped_secret_ = true;
    stored = std::move(next);
    stmt s(c_,
           "UPDATE units SET login=?, secret=?, secret_key_id=?, attempts=?, next_attempt_at=?, "
           "last_error=? WHERE id=?");
    s.bind(1, st.login).bind(2, stored.text).bind(3, stored.key_id);
    s.bind(4, std::int64_t{st.attempts}).bind(5, common::to_unix_ms(st.next_attempt_at));
    s.bind(6, st.last_error).bind(7, st.unit_id);
    s.run();
  }

  std::int64_t append_audit(const audit_event& ev) override {
    stmt s(c_,
           "INSERT INTO audit(at, actor, action, request_id, status, detail) VALUES(?,?,?,?,?,?)");
    s.bind(1, common::to_unix_ms(ev.at)).bind(2, ev.actor).bind(3, ev.action);
    if (ev.request_id)
      s.bind(4, ev.request_id);
    else
      s.bind_null(4);
    if (ev.status.empty())
      s.bind_null(5);
    else
      s.bind(5, ev.status);
    s.bind(6, ev.detail.empty() ? std::string("{}") : ev.detail);
    s.run();
    return sqlite3_last_insert_rowid(db_);
  }

  void insert_token(const std::string& hash, const std::string& user, common::time_point now,
                    const std::string& description, common::time_point expires_at) override {
    stmt s(c_,
           "INSERT INTO api_tokens(hash, user, created_at, description, expires_at) "
           "VALUES(?,?,?,?,?)");
    s.bind(1, hash).bind(2, user).bind(3, common::to_unix_ms(now)).bind(4, description);
    s.bind(5, common::to_unix_ms(expires_at));
    s.run();
  }

  login_window add_login_failure(const std::string& subject, common::time_point now,
                                 std::chrono::milliseconds window) override {
    // Both CASEs read the row as it was: a window that has passed starts over at now.
    stmt s(c_,
           "INSERT INTO login_failures(subject, window_start, failures) VALUES(?1, ?2, 1) "
           "ON CONFLICT(subject) DO UPDATE SET "
           "failures = CASE WHEN login_failures.window_start <= ?2 - ?3 THEN 1 "
           "ELSE login_failures.failures + 1 END, "
           "window_start = CASE WHEN login_failures.window_start <= ?2 - ?3 THEN ?2 "
           "ELSE login_failures.window_start END "
           "RETURNING failures, window_start");
    s.bind(1, subject).bind(2, common::to_unix_ms(now));
    s.bind(3, static_cast<std::int64_t>(window.count()));
    if (!s.step()) throw std::runtime_error("store: counting a failed sign-in returned nothing");
    login_window w{static_cast<int>(s.i64(0)), common::from_unix_ms(s.i64(1)) + window};
    s.run();
    return w;
  }

  login_window login_failures(const std::string& subject, common::time_point now,
                              std::chrono::milliseconds window) override {
    stmt s(c_, "SELECT failures, window_start FROM login_failures WHERE subject = ?");
    s.bind(1, subject);
    if (!s.step()) return {};
    auto ends = common::from_unix_ms(s.i64(1)) + window;
    if (ends <= now) return {};
    return {static_cast<int>(s.i64(0)), ends};
  }

  void clear_login_failures(const std::string& subject) override {
    stmt s(c_, "DELETE FROM login_failures WHERE subject = ?");
    s.bind(1, subject);
    s.run();
  }

  bool revoke_token(const std::string& hash, common::time_point now) override {
    stmt s(c_, "UPDATE api_tokens SET revoked_at = ? WHERE hash = ? AND revoked_at IS NULL");
    s.bind(1, common::to_unix_ms(now)).bind(2, hash);
    s.run();
    return sqlite3_changes(db_) == 1;
  }

  void insert_auth_code(const auth_code& c, common::time_point now) override {
    // Nothing can use an expired code, so each new one sweeps the old ones out.
    stmt gc(c_, "DELETE FROM auth_codes WHERE expires_at <= ?");
    gc.bind(1, common::to_unix_ms(now));
    gc.run();
    stmt s(c_,
           "INSERT INTO auth_codes(code_hash, user, challenge, redirect_uri, expires_at) "
           "VALUES(?,?,?,?,?)");
    s.bind(1, c.code_hash).bind(2, c.user).bind(3, c.challenge).bind(4, c.redirect_uri);
    s.bind(5, common::to_unix_ms(c.expires_at));
    s.run();
  }

  std::optional<auth_code> take_auth_code(const std::string& code_hash,
                                          common::time_point now) override {
    stmt s(c_,
           "UPDATE auth_codes SET used = 1 WHERE code_hash = ? AND used = 0 AND expires_at > ? "
           "RETURNING user, challenge, redirect_uri, expires_at");
    s.bind(1, code_hash).bind(2, common::to_unix_ms(now));
    if (!s.step()) return std::nullopt;
    auth_code c;
    c.code_hash = code_hash;
    c.user = s.text(0);
    c.challenge = s.text(1);
    c.redirect_uri = s.text(2);
    c.expires_at = common::from_unix_ms(s.i64(3));
    s.run();
    return c;
  }

  void insert_browser_session(const std::string& hash, const std::string& user,
                              common::time_point now, common::time_point expires_at,
                              common::time_point idle_before) override {
    // Each sign-in sweeps out the sessions nobody can use any more; a table of the sessions
    // alive at once needs no index for that.
    stmt gc(c_, "DELETE FROM browser_sessions WHERE expires_at <= ? OR last_seen_at <= ?");
    gc.bind(1, common::to_unix_ms(now)).bind(2, common::to_unix_ms(idle_before));
    gc.run();
    stmt s(c_,
           "INSERT INTO browser_sessions(hash, user, created_at, last_seen_at, expires_at) "
           "VALUES(?1, ?2, ?3, ?3, ?4)");
    s.bind(1, hash).bind(2, user).bind(3, common::to_unix_ms(now));
    s.bind(4, common::to_unix_ms(expires_at));
    s.run();
  }

  bool delete_browser_session(const std::string& hash) override {
    stmt s(c_, "DELETE FROM browser_sessions WHERE hash = ?");
    s.bind(1, hash);
    s.run();
    return sqlite3_changes(db_) == 1;
  }

  std::optional<common::access_request> read_request(std::int64_t id) override {
    return get_request(id);
  }

  std::vector<audit_event> read_audit(std::int64_t after, std::size_t limit) override {
    stmt s(c_,
           "SELECT id, at, actor, action, request_id, status, detail FROM audit WHERE id > ? "
           "ORDER BY id LIMIT ?");
    s.bind(1, after).bind(2, static_cast<std::int64_t>(limit));
    std::vector<audit_event> out;
    while (s.step()) out.push_back(read_audit_row(s));
    return out;
  }

  std::int64_t notify_cursor() override {
    stmt s(c_, "SELECT last_audit_id FROM notify_cursor WHERE id = 1");
    return s.step() ? s.i64(0) : 0;
  }

  void set_notify_cursor(std::int64_t audit_id) override {
    stmt s(c_, "UPDATE notify_cursor SET last_audit_id = ? WHERE id = 1");
    s.bind(1, audit_id);
    s.run();
  }

  bool insert_delivery(delivery& d) override {
    stmt s(c_,
           "INSERT INTO deliveries(endpoint, channel, audit_id, request_id, event_type, "
           "webhook_id, payload, status, attempts, next_attempt_at, give_up_at, last_error, "
           "last_http_status, created_at, delivered_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
           "ON CONFLICT(endpoint, audit_id, event_type) DO NOTHING");
    s.bind(1, d.endpoint).bind(2, d.channel).bind(3, d.audit_id);
    if (d.request_id)
      s.bind(4, d.request_id);
    else
      s.bind_null(4);
    s.bind(5, d.event_type).bind(6, d.webhook_id).bind(7, d.payload).bind(8, d.status);
    s.bind(9, std::int64_t{d.attempts}).bind(10, common::to_unix_ms(d.next_attempt_at));
    s.bind(11, common::to_unix_ms(d.give_up_at)).bind(12, d.last_error);
    s.bind(13, std::int64_t{d.last_http_status}).bind(14, common::to_unix_ms(d.created_at));
    s.bind(15, d.delivered_at);
    s.run();
    if (sqlite3_changes(db_) != 1) return false;
    d.id = sqlite3_last_insert_rowid(db_);
    return true;
  }

  std::optional<delivery> get_delivery(std::int64_t id) override {
    std::string sql = std::string("SELECT ") + delivery_columns + " FROM deliveries WHERE id = ?";
    stmt s(c_, sql.c_str());
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_delivery(s);
  }

  void update_delivery(const delivery& d) override {
    stmt s(c_,
           "UPDATE deliveries SET status=?, attempts=?, next_attempt_at=?, give_up_at=?, "
           "last_error=?, last_http_status=?, delivered_at=? WHERE id=?");
    s.bind(1, d.status).bind(2, std::int64_t{d.attempts});
    s.bind(3, common::to_unix_ms(d.next_attempt_at)).bind(4, common::to_unix_ms(d.give_up_at));
    s.bind(5, d.last_error).bind(6, std::int64_t{d.last_http_status}).bind(7, d.delivered_at);
    s.bind(8, d.id);
    s.run();
    if (sqlite3_changes(db_) != 1)
      throw std::runtime_error("store: no delivery " + std::to_string(d.id));
  }

  std::vector<delivery> list_deliveries(const delivery_filter& f) override {
    std::string sql =
        std::string("SELECT ") + delivery_columns +
        " FROM deliveries WHERE (?1 IS NULL OR status = ?1)"
        " AND (?2 IS NULL OR endpoint = ?2 OR substr(endpoint, 1, length(?2) + 1) = ?2 || ':')"
        " AND (?3 IS NULL OR id < ?3)"
        " ORDER BY id DESC LIMIT ?4";
    stmt s(c_, sql.c_str());
    if (f.status)
      s.bind(1, *f.status);
    else
      s.bind_null(1);
    if (f.endpoint)
      s.bind(2, *f.endpoint);
    else
      s.bind_null(2);
    if (f.before_id)
      s.bind(3, *f.before_id);
    else
      s.bind_null(3);
    s.bind(4, static_cast<std::int64_t>(f.limit));
    std::vector<delivery> out;
    while (s.step()) out.push_back(read_delivery(s));
    return out;
  }

  std::vector<endpoint_state> endpoint_states() override {
    stmt s(c_, "SELECT name, disabled_at, disabled_reason FROM notify_endpoints ORDER BY name");
    std::vector<endpoint_state> out;
    while (s.step()) out.push_back({s.text(0), s.opt_time(1), s.text(2)});
    return out;
  }

  void set_endpoint_state(const std::string& name, std::optional<common::time_point> at,
                          const std::string& reason) override {
    stmt s(c_,
           "INSERT INTO notify_endpoints(name, disabled_at, disabled_reason) VALUES(?1, ?2, ?3) "
           "ON CONFLICT(name) DO UPDATE SET disabled_at = ?2, disabled_reason = ?3");
    s.bind(1, name).bind(2, at).bind(3, at ? reason : std::string());
    s.run();
  }

  std::int64_t end_pending_deliveries(const std::string& endpoint,
                                      const std::string& reason) override {
    stmt s(c_,
           "UPDATE deliveries SET status = 'dead', last_error = ? WHERE endpoint = ? AND "
           "status = 'pending'");
    s.bind(1, reason).bind(2, endpoint);
    s.run();
    return sqlite3_changes(db_);
  }

  std::int64_t prune_deliveries(common::time_point before, std::size_t limit) override {
    // By (status, next_attempt_at), the due index: a range per status, never a scan.
    stmt s(c_,
           "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE status IN "
           "('delivered','dead') AND next_attempt_at < ? ORDER BY next_attempt_at LIMIT ?)");
    s.bind(1, common::to_unix_ms(before)).bind(2, static_cast<std::int64_t>(limit));
    s.run();
    return sqlite3_changes(db_);
  }

  std::optional<audit_event> last_request_audit(std::int64_t request_id,
                                                const std::string& action) override {
    stmt s(c_,
           "SELECT id, at, actor, action, request_id, status, detail FROM audit "
           "WHERE request_id = ? AND action = ? ORDER BY id DESC LIMIT 1");
    s.bind(1, request_id).bind(2, action);
    if (!s.step()) return std::nullopt;
    return read_audit_row(s);
  }

  bool remember_slack_request(const std::string& key, common::time_point expires_at,
                              common::time_point now) override {
    // The window keeps this table to a few minutes of requests: each new one sweeps it.
    stmt gc(c_, "DELETE FROM slack_requests_seen WHERE expires_at <= ?");
    gc.bind(1, common::to_unix_ms(now));
    gc.run();
    stmt s(c_,
           "INSERT INTO slack_requests_seen(key, expires_at) VALUES(?, ?) ON CONFLICT DO NOTHING");
    s.bind(1, key).bind(2, common::to_unix_ms(expires_at));
    s.run();
    return sqlite3_changes(db_) == 1;
  }

  bool insert_slack_message(const slack_message_ref& m) override {
    stmt s(c_,
           "INSERT INTO slack_messages(webhook_id, request_id, user, role, channel, ts, "
           "created_at) VALUES(?,?,?,?,?,?,?) ON CONFLICT DO NOTHING");
    s.bind(1, m.webhook_id).bind(2, m.request_id).bind(3, m.user).bind(4, m.role);
    s.bind(5, m.channel).bind(6, m.ts).bind(7, common::to_unix_ms(m.created_at));
    s.run();
    return sqlite3_changes(db_) == 1;
  }

  std::optional<slack_message_ref> slack_message_by_delivery(
      const std::string& webhook_id) override {
    stmt s(c_,
           "SELECT webhook_id, request_id, user, role, channel, ts, created_at FROM "
           "slack_messages WHERE webhook_id = ?");
    s.bind(1, webhook_id);
    if (!s.step()) return std::nullopt;
    return slack_row(s);
  }

  std::int64_t prune_slack_messages(common::time_point before, std::size_t limit) override {
    stmt s(c_,
           "DELETE FROM slack_messages WHERE webhook_id IN (SELECT m.webhook_id FROM "
           "slack_messages m JOIN requests r ON r.id = m.request_id WHERE r.status IN "
           "('EXPIRED','REVOKED','REJECTED','FAILED') AND r.updated_at < ? LIMIT ?)");
    s.bind(1, common::to_unix_ms(before)).bind(2, static_cast<std::int64_t>(limit));
    s.run();
    return sqlite3_changes(db_);
  }

  std::vector<slack_message_ref> slack_messages(std::int64_t request_id) override {
    stmt s(c_,
           "SELECT webhook_id, request_id, user, role, channel, ts, created_at FROM "
           "slack_messages WHERE request_id = ? ORDER BY created_at, webhook_id");
    s.bind(1, request_id);
    std::vector<slack_message_ref> out;
    while (s.step()) out.push_back(slack_row(s));
    return out;
  }

 private:
  static slack_message_ref slack_row(stmt& s) {
    slack_message_ref m;
    m.webhook_id = s.text(0);
    m.request_id = s.i64(1);
    m.user = s.text(2);
    m.role = s.text(3);
    m.channel = s.text(4);
    m.ts = s.text(5);
    m.created_at = common::from_unix_ms(s.i64(6));
    return m;
  }

  sqlite_connection& c_;
  sqlite3* db_;
  const secret_box* keys_;
  bool dropped_secret_ = false;
};

namespace {

// Opens `path` on `c` (NOMUTEX: each connection is used under its own mutex) with the settings
// every connection needs; throws std::runtime_error.
void open_connection(sqlite_connection& c, const std::filesystem::path& path) {
  if (sqlite3_open_v2(path.c_str(), &c.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    std::string msg = c.db ? sqlite3_errmsg(c.db) : "out of memory";
    throw std::runtime_error("store: cannot open " + path.string() + ": " + msg);
  }
  sqlite3_busy_timeout(c.db, 5000);
  // secure_delete zeroes what a row update or delete leaves behind in a page, so a wiped
  // secret does not linger in the file's free space.
  exec(c.db, "PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;");
}

}  // namespace

sqlite_store::sqlite_store(const std::filesystem::path& path,
                           std::shared_ptr<const secret_box> keys)
    : keys_(std::move(keys)), writer_(std::make_unique<sqlite_connection>()) {
  // Create the file ourselves so it is 0600 from its first byte; SQLite gives its -wal and
  // -shm companions the same mode.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    throw std::runtime_error("store: cannot open " + path.string() + ": " + std::strerror(errno));
  ::close(fd);
  open_connection(*writer_, path);
  db_ = writer_->db;
  exec(db_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
  int version = schema_version();
  constexpr int latest = static_cast<int>(std::size(migrations));
  if (version > latest)
    throw std::runtime_error("store: " + path.string() + " has schema version " +
                             std::to_string(version) + ", newer than this aponod (" +
                             std::to_string(latest) + ")");
  for (int v = version; v < latest; ++v) {
    exec(db_, "BEGIN IMMEDIATE");
    try {
      exec(db_, migrations[v]);
      exec(db_, ("PRAGMA user_version=" + std::to_string(v + 1)).c_str());
      exec(db_, "COMMIT");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
  // Readers beside the one writer: in WAL mode they read the last commit while the writer
  // writes, so lists and event feeds do not queue behind grants. They open after the
  // migrations so that none caches the old schema.
  for (std::size_t i = 0; i < reader_count; ++i) {
    auto r = std::make_unique<reader>();
    open_connection(r->c, path);
    exec(r->c.db, "PRAGMA query_only=ON;");
    readers_.push_back(std::move(r));
  }
}

sqlite_store::~sqlite_store() = default;

int sqlite_store::schema_version() {
  stmt s(*writer_, "PRAGMA user_version");
  return s.step() ? static_cast<int>(s.i64(0)) : 0;
}

void sqlite_store::transact(const std::function<void(store_tx&)>& fn) {
  std::lock_guard lock(mutex_);
  run(*writer_, fn, "BEGIN IMMEDIATE");
}

sqlite_store::reader& sqlite_store::lock_reader(std::unique_lock<std::mutex>& lock) {
  // The first free reader, else wait for the next one in turn.
  for (auto& r : readers_) {
    std::unique_lock l(r->mutex, std::try_to_lock);
    if (l.owns_lock()) {
      lock = std::move(l);
      return *r;
    }
  }
  auto& r = *readers_[next_reader_++ % readers_.size()];
  lock = std::unique_lock(r.mutex);
  return r;
}

void sqlite_store::read(const std::function<void(store_tx&)>& fn) {
  std::unique_lock<std::mutex> lock;
  run(lock_reader(lock).c, fn, "BEGIN");
}

void sqlite_store::run(sqlite_connection& c, const std::function<void(store_tx&)>& fn,
                       const char* begin) {
  tx t(c, keys_.get());
  exec(c.db, begin);
  try {
    fn(t);
    exec(c.db, "COMMIT");
  } catch (...) {
    sqlite3_exec(c.db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  // The WAL still holds the page images with the old secret until it is checkpointed and
  // reset, which on a quiet broker can take days: copy it into the database now and empty
  // it. Best effort; a failure only leaves things as they were.
  if (t.dropped_secret())
    (void)sqlite3_wal_checkpoint_v2(c.db, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
}

due_work sqlite_store::find_due(common::time_point now, common::time_point stale_before) {
  std::lock_guard lock(mutex_);
  due_work w;
  auto now_ms = common::to_unix_ms(now);
  {
    stmt s(*writer_,
           "SELECT id, status FROM units WHERE status IN ('GRANTING','REVOKING') "
           "AND next_attempt_at <= ? ORDER BY next_attempt_at, id");
    s.bind(1, now_ms);
    while (s.step()) {
      // Only this process uses the file, so a claim is a note in memory.
      if (!claimed_.insert(s.i64(0)).second) continue;
      (s.text(1) == "GRANTING" ? w.units_to_grant : w.units_to_revoke).push_back(s.i64(0));
    }
  }
  {
    stmt s(*writer_,
           "SELECT id FROM requests WHERE status = 'ACTIVE' AND ends_at <= ? ORDER BY ends_at");
    s.bind(1, now_ms);
    while (s.step()) w.requests_to_expire.push_back(s.i64(0));
  }
  {
    stmt s(*writer_, "SELECT id FROM requests WHERE status = 'PENDING' AND created_at <= ?");
    s.bind(1, common::to_unix_ms(stale_before));
    while (s.step()) w.requests_stale.push_back(s.i64(0));
  }
  return w;
}

void sqlite_store::release_unit(std::int64_t unit_id) {
  std::lock_guard lock(mutex_);
  claimed_.erase(unit_id);
}

std::optional<common::time_point> sqlite_store::next_due(std::chrono::milliseconds pending_ttl) {
  std::lock_guard lock(mutex_);
  stmt s(*writer_,
         "SELECT min(t) FROM ("
         " SELECT min(next_attempt_at) AS t FROM units WHERE status IN ('GRANTING','REVOKING')"
         " UNION ALL SELECT min(ends_at) FROM requests WHERE status = 'ACTIVE'"
         " UNION ALL SELECT min(created_at) + ? FROM requests WHERE status = 'PENDING')");
  s.bind(1, static_cast<std::int64_t>(pending_ttl.count()));
  if (!s.step() || s.is_null(0)) return std::nullopt;
  return common::from_unix_ms(s.i64(0));
}

std::vector<audit_event> sqlite_store::audit_after(std::int64_t after,
                                                   std::optional<std::int64_t> request_id,
                                                   bool status_only, std::size_t limit) {
  std::unique_lock<std::mutex> lock;
  auto& r = lock_reader(lock);
  // One request's events come by its index: with `?2 IS NULL OR request_id = ?2` the planner,
  // which cannot know ?2, walks the whole log by id instead.
  stmt s(r.c, request_id ? "SELECT id, at, actor, action, request_id, status, detail FROM audit "
                           "WHERE request_id = ?2 AND id > ?1 AND (?3 = 0 OR status IS NOT NULL) "
                           "ORDER BY id LIMIT ?4"
                         : "SELECT id, at, actor, action, request_id, status, detail FROM audit "
                           "WHERE id > ?1 AND ?2 IS NULL AND (?3 = 0 OR status IS NOT NULL) "
                           "ORDER BY id LIMIT ?4");
  s.bind(1, after);
  if (request_id)
    s.bind(2, *request_id);
  else
    s.bind_null(2);
  s.bind(3, std::int64_t{status_only ? 1 : 0}).bind(4, static_cast<std::int64_t>(limit));
  std::vector<audit_event> out;
  while (s.step()) {
    audit_event ev;
    ev.id = s.i64(0);
    ev.at = common::from_unix_ms(s.i64(1));
    ev.actor = s.text(2);
    ev.action = s.text(3);
    ev.request_id = s.is_null(4) ? 0 : s.i64(4);
    ev.status = s.text(5);
    ev.detail = s.text(6);
    out.push_back(std::move(ev));
  }
  return out;
}

std::int64_t sqlite_store::last_audit_id() {
  std::unique_lock<std::mutex> lock;
  auto& r = lock_reader(lock);
  stmt s(r.c, "SELECT coalesce(max(id), 0) FROM audit");
  return s.step() ? s.i64(0) : 0;
}

std::vector<std::pair<status, std::int64_t>> sqlite_store::count_by_status() {
  std::unique_lock<std::mutex> lock;
  auto& r = lock_reader(lock);
  stmt s(r.c, "SELECT status, count(*) FROM requests GROUP BY status");
  std::vector<std::pair<status, std::int64_t>> out;
  while (s.step()) out.emplace_back(status_of(s.text(0)), s.i64(1));
  return out;
}

std::int64_t sqlite_store::count_stuck_revocations(int min_attempts) {
  std::unique_lock<std::mutex> lock;
  auto& r = lock_reader(lock);
  stmt s(r.c, "SELECT count(*) FROM units WHERE status = 'REVOKING' AND attempts >= ?");
  s.bind(1, std::int64_t{min_attempts});
  return s.step() ? s.i64(0) : 0;
}

std::optional<stored_token> sqlite_store::find_token(const std::string& hash,
                                                     common::time_point now) {
  // Every API call looks its token up: on a reader, so that calls do not queue behind the
  // writer; the writer only for the occasional note of its last use.
  const auto now_ms = common::to_unix_ms(now);
  stored_token t;
  bool touch = false;
  {
    std::unique_lock<std::mutex> lock;
    auto& r = lock_reader(lock);
    stmt s(r.c,
           "SELECT user, last_used_at, expires_at FROM api_tokens WHERE hash = ? AND revoked_at "
           "IS NULL");
    s.bind(1, hash);
    if (!s.step()) return std::nullopt;
    t.user = s.text(0);
    t.expires_at = common::from_unix_ms(s.i64(2));
    touch = t.expires_at > now && (s.is_null(1) || s.i64(1) <= now_ms - token_touch_interval_ms);
  }
  if (touch) {
    std::lock_guard lock(mutex_);
    stmt s(*writer_, "UPDATE api_tokens SET last_used_at = ? WHERE hash = ?");
    s.bind(1, now_ms).bind(2, hash);
    s.run();
  }
  return t;
}

std::optional<browser_session> sqlite_store::find_browser_session(const std::string& hash) {
  // Every portal call looks its session up: on a reader, like tokens.
  std::unique_lock<std::mutex> lock;
  auto& r = lock_reader(lock);
  stmt s(r.c,
         "SELECT user, created_at, last_seen_at, expires_at FROM browser_sessions WHERE hash = ?");
  s.bind(1, hash);
  if (!s.step()) return std::nullopt;
  return browser_session{s.text(0), common::from_unix_ms(s.i64(1)), common::from_unix_ms(s.i64(2)),
                         common::from_unix_ms(s.i64(3))};
}

bool sqlite_store::touch_browser_session(const std::string& hash, common::time_point now,
                                         std::chrono::milliseconds min_interval) {
  std::lock_guard lock(mutex_);
  stmt s(*writer_,
         "UPDATE browser_sessions SET last_seen_at = ?1 WHERE hash = ?2 AND last_seen_at <= ?3");
  s.bind(1, common::to_unix_ms(now)).bind(2, hash);
  s.bind(3, common::to_unix_ms(now) - static_cast<std::int64_t>(min_interval.count()));
  s.run();
  return sqlite3_changes(db_) == 1;
}

std::size_t sqlite_store::reseal_secrets() {
  if (!keys_ || !keys_->has_keys())
    throw std::runtime_error("store: no key for secrets at rest is configured");
  std::vector<std::int64_t> units;
  {
    std::lock_guard lock(mutex_);
    stmt s(*writer_, "SELECT id FROM units WHERE secret <> '' AND secret_key_id <> ?");
    s.bind(1, keys_->current_key_id());
    while (s.step()) units.push_back(s.i64(0));
  }
  // put_unit_state seals what it finds in the clear or under an old key.
  for (auto id : units) transact([&](store_tx& t) { t.put_unit_state(t.get_unit_state(id)); });
  return units.size();
}

std::vector<delivery> sqlite_store::find_due_deliveries(common::time_point now, std::size_t limit) {
  std::lock_guard lock(mutex_);
  std::string sql = std::string("SELECT ") + delivery_columns +
                    " FROM deliveries d WHERE status = 'pending' AND next_attempt_at <= ?1"
                    " AND NOT EXISTS (SELECT 1 FROM notify_endpoints e WHERE e.name = d.endpoint"
                    "  AND e.disabled_at IS NOT NULL)"
                    " AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.status = 'pending'"
                    "  AND p.endpoint = d.endpoint AND p.request_id = d.request_id AND p.id < d.id)"
                    " ORDER BY next_attempt_at, id LIMIT ?2";
  stmt s(*writer_, sql.c_str());
  // Claimed ones are still pending and come back: ask for enough to fill the limit past them.
  s.bind(1, common::to_unix_ms(now))
      .bind(2, static_cast<std::int64_t>(limit + claimed_deliveries_.size()));
  std::vector<delivery> out;
  while (s.step() && out.size() < limit) {
    auto d = read_delivery(s);
    // Only this process uses the file, so a claim is a note in memory.
    if (claimed_deliveries_.insert(d.id).second) out.push_back(std::move(d));
  }
  return out;
}

std::vector<notice_candidate> sqlite_store::notice_candidates(common::time_point made_before,
                                                              common::time_point ending_before) {
  std::unique_lock<std::mutex> lock;
  auto& r = lock_reader(lock);
  // The last notice by the audit index (request_id, id): a request has a handful of events.
  stmt s(r.c,
         "SELECT r.id, r.status, r.created_at, r.active_from, r.ends_at, a.id, a.at, a.actor, "
         "a.action, a.request_id, a.status, a.detail FROM requests r LEFT JOIN audit a ON a.id = "
         "(SELECT max(x.id) FROM audit x WHERE x.request_id = r.id AND x.action = CASE r.status "
         "WHEN 'PENDING' THEN 'request.reminder' ELSE 'request.expiring_soon' END) "
         "WHERE (r.status = 'PENDING' AND r.created_at <= ?1) OR "
         "(r.status = 'ACTIVE' AND r.ends_at <= ?2) ORDER BY r.id");
  s.bind(1, common::to_unix_ms(made_before)).bind(2, common::to_unix_ms(ending_before));
  std::vector<notice_candidate> out;
  while (s.step()) {
    notice_candidate c;
    c.request_id = s.i64(0);
    c.state = status_of(s.text(1));
    c.created_at = common::from_unix_ms(s.i64(2));
    c.active_from = s.opt_time(3);
    c.ends_at = s.opt_time(4);
    if (!s.is_null(5)) c.last = read_audit_row(s, 5);
    out.push_back(std::move(c));
  }
  return out;
}

void sqlite_store::release_delivery(std::int64_t id) {
  std::lock_guard lock(mutex_);
  claimed_deliveries_.erase(id);
}

std::optional<common::time_point> sqlite_store::next_delivery_due() {
  std::unique_lock<std::mutex> lock;
  auto& r = lock_reader(lock);
  // Only what could be claimed: not what waits behind an earlier delivery or a disabled
  // endpoint, which would otherwise keep the dispatcher polling until that one is due.
  stmt s(r.c,
         "SELECT min(next_attempt_at) FROM deliveries d WHERE status = 'pending'"
         " AND NOT EXISTS (SELECT 1 FROM notify_endpoints e WHERE e.name = d.endpoint"
         "  AND e.disabled_at IS NOT NULL)"
         " AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.status = 'pending'"
         "  AND p.endpoint = d.endpoint AND p.request_id = d.request_id AND p.id < d.id)");
  if (!s.step() || s.is_null(0)) return std::nullopt;
  return common::from_unix_ms(s.i64(0));
}

delivery_stats sqlite_store::count_deliveries() {
  std::unique_lock<std::mutex> lock;
  auto& r = lock_reader(lock);
  stmt s(r.c,
         "SELECT (SELECT count(*) FROM deliveries WHERE status = 'pending'),"
         " (SELECT min(created_at) FROM deliveries WHERE status = 'pending'),"
         " (SELECT count(*) FROM notify_endpoints WHERE disabled_at IS NOT NULL)");
  delivery_stats out;
  if (s.step()) {
    out.pending = s.i64(0);
    out.oldest_pending = s.opt_time(1);
    out.endpoints_disabled = s.i64(2);
  }
  return out;
}

bool sqlite_store::ping() {
  try {
    std::lock_guard lock(mutex_);
    stmt s(*writer_, "SELECT 1");
    return s.step() && s.i64(0) == 1;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace apono::broker
