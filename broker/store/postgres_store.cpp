// PostgreSQL store. The schema mirrors the SQLite one (times in integer milliseconds,
// statuses by wire name) so the two behave alike and `aponod store migrate` copies rows as
// they are. What replicas need on top:
//
// - Transitions lock the request row they decide on (SELECT ... FOR UPDATE); scheduler steps
//   skip rows another transaction holds (SKIP LOCKED) instead of queueing behind it.
// - Unit work is claimed with session advisory locks on a connection kept for that: the claim
//   lasts while this process's connection does, so a replica killed mid-step frees its units
//   the moment the server sees its socket close, and another replica takes them on its next
//   pass. (A lease with an expiry would hold them for the lease instead.)
// - Audit ids come from a sequence, which hands them out in start order, not commit order; a
//   reader of the feed who saw id 11 would skip an id 10 committed after it. So appending to
//   the audit takes a transaction-level advisory lock held to commit: ids commit in order.
// - A status change NOTIFYs on commit; every replica LISTENs and wakes its long-polls and its
//   scheduler.
#include "broker/store/postgres_store.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <map>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <unordered_map>

namespace apono::broker {

using common::status;
using namespace std::chrono_literals;

namespace {

// Each entry moves the schema one version forward; never edit one that has shipped.
constexpr const char* migrations[] = {
    R"sql(
CREATE TABLE requests(
  id BIGSERIAL PRIMARY KEY,
  requester TEXT NOT NULL,
  integration TEXT NOT NULL DEFAULT '',
  resource_type TEXT NOT NULL DEFAULT '',
  bundle TEXT NOT NULL DEFAULT '',
  duration_s BIGINT NOT NULL,
  justification TEXT NOT NULL,
  status TEXT NOT NULL,
  end_reason TEXT NOT NULL DEFAULT '',
  flow TEXT NOT NULL,
  automatic BOOLEAN NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  active_from BIGINT,
  ends_at BIGINT,
  decided_by TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '');
CREATE INDEX requests_status ON requests(status, ends_at);
CREATE INDEX requests_requester ON requests(requester, id);
CREATE TABLE units(
  id BIGSERIAL PRIMARY KEY,
  request_id BIGINT NOT NULL REFERENCES requests(id),
  integration TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource TEXT NOT NULL,
  permission TEXT NOT NULL,
  status TEXT NOT NULL,
  login TEXT NOT NULL DEFAULT '',
  secret TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '');
CREATE INDEX units_request ON units(request_id);
CREATE INDEX units_due ON units(status, next_attempt_at);
CREATE TABLE audit(
  id BIGSERIAL PRIMARY KEY,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  request_id BIGINT,
  status TEXT,
  detail TEXT NOT NULL DEFAULT '{}');
CREATE INDEX audit_request ON audit(request_id, id);
CREATE TABLE api_tokens(
  hash TEXT PRIMARY KEY,
  username TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT,
  revoked_at BIGINT,
  description TEXT);
CREATE TABLE auth_codes(
  code_hash TEXT PRIMARY KEY,
  username TEXT NOT NULL,
  challenge TEXT NOT NULL,
  redirect_uri TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  used BOOLEAN NOT NULL DEFAULT false);
)sql",
    // Secrets at rest: the key that sealed units.secret; '' for a secret in the clear.
    R"sql(
ALTER TABLE units ADD COLUMN secret_key_id TEXT NOT NULL DEFAULT '';
)sql",
    // Logins at scale: tokens expire, and failed sign-ins are counted where every replica
    // sees them.
    R"sql(
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
UPDATE api_tokens SET expires_at = created_at + 2592000000 WHERE expires_at IS NULL;
ALTER TABLE api_tokens ALTER COLUMN expires_at SET NOT NULL;
CREATE TABLE login_failures(
  subject TEXT PRIMARY KEY,
  window_start BIGINT NOT NULL,
  failures INTEGER NOT NULL);
)sql",
    // The web portal's browser sessions, by the SHA-256 hex of the cookie's secret; shared by
    // every replica, so a browser may land on any of them.
    R"sql(
CREATE TABLE browser_sessions(
  hash TEXT PRIMARY KEY,
  username TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL);
)sql",
    // Notifications: the fan-out's cursor into the audit trail (starting at its end, so no
    // history is replayed; its row lock lets one replica fan out at a time), the deliveries it
    // makes, and the endpoints disabled (410 Gone).
    R"sql(
CREATE TABLE notify_cursor(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  last_audit_id BIGINT NOT NULL);
INSERT INTO notify_cursor(id, last_audit_id) SELECT 1, coalesce(max(id), 0) FROM audit;
CREATE TABLE deliveries(
  id BIGSERIAL PRIMARY KEY,
  endpoint TEXT NOT NULL,
  channel TEXT NOT NULL,
  audit_id BIGINT NOT NULL,
  request_id BIGINT,
  event_type TEXT NOT NULL,
  webhook_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  give_up_at BIGINT NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  last_http_status INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  delivered_at BIGINT,
  UNIQUE(endpoint, audit_id, event_type));
CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at);
CREATE INDEX deliveries_pending_order ON deliveries(endpoint, request_id, id)
  WHERE status = 'pending';
CREATE TABLE notify_endpoints(
  name TEXT PRIMARY KEY,
  disabled_at BIGINT,
  disabled_reason TEXT NOT NULL DEFAULT '');
)sql",
    // Slack: requests from Slack seen within their 5-minute window (a replay to any replica is
    // refused: the primary key decides between two at once), and the messages posted, so later
    // events update them or reply in their thread.
    R"sql(
CREATE TABLE slack_requests_seen(
  key TEXT PRIMARY KEY,
  expires_at BIGINT NOT NULL);
CREATE INDEX slack_requests_seen_expiry ON slack_requests_seen(expires_at);
CREATE TABLE slack_messages(
  webhook_id TEXT PRIMARY KEY,
  request_id BIGINT NOT NULL,
  username TEXT NOT NULL,
  role TEXT NOT NULL,
  channel TEXT NOT NULL,
  ts TEXT NOT NULL,
  created_at BIGINT NOT NULL);
CREATE INDEX slack_messages_request ON slack_messages(request_id, created_at);
)sql",
};

// Advisory lock keys. Session-level locks of the two-int form and of the one-bigint form do
// not collide, and the provisioner's lock lives in target databases; still, these sit in a
// range of their own ("APON" in the high half).
constexpr std::int64_t migrate_lock_key = 0x41504F4E0001LL;
constexpr std::int64_t audit_lock_key = 0x41504F4E0002LL;
constexpr std::int64_t claim_key_base = 0x41504F4E00000000LL;           // + the unit id
constexpr std::int64_t delivery_claim_key_base = 0x41504F4400000000LL;  // + the delivery id

constexpr const char* notify_channel = "apono_changes";

// A token's last use is written at most this often: an API call should not cost a write.
constexpr std::int64_t token_touch_interval_ms = 60 * 1000;

// How often a transaction the server asked us to retry (deadlock, serialization) is re-run.
constexpr int max_attempts = 5;

/// The server asked for the transaction to be run again.
class retry_transaction : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string first_line(std::string_view s) {
  auto end = s.find('\n');
  if (end != std::string_view::npos) s = s.substr(0, end);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

std::int64_t to_i64(const char* s) {
  std::int64_t v = 0;
  std::string_view sv(s);
  auto [p, ec] = std::from_chars(sv.data(), sv.data() + sv.size(), v);
  if (ec != std::errc{} || p != sv.data() + sv.size())
    throw std::runtime_error("store: expected an integer, got '" + std::string(sv.substr(0, 40)) +
                             "'");
  return v;
}

status status_of(const std::string& s) {
  auto st = common::parse_status(s);
  if (!st) throw std::runtime_error("store: unknown status '" + s + "'");
  return *st;
}

/// Text parameters of one statement; nullopt is SQL NULL.
class params {
 public:
  params& add(std::int64_t v) {
    values_.emplace_back(std::to_string(v));
    return *this;
  }
  params& add(std::string v) {
    values_.emplace_back(std::move(v));
    return *this;
  }
  params& add(std::string_view v) { return add(std::string(v)); }
  params& add(const char* v) { return add(std::string(v)); }
  params& add(bool v) { return add(std::string(v ? "true" : "false")); }
  params& add(const std::optional<common::time_point>& t) {
    if (t) return add(common::to_unix_ms(*t));
    return null();
  }
  params& add(common::time_point t) { return add(common::to_unix_ms(t)); }
  params& null() {
    values_.emplace_back(std::nullopt);
    return *this;
  }
  [[nodiscard]] std::vector<const char*> pointers() const {
    std::vector<const char*> out;
    for (const auto& v : values_) out.push_back(v ? v->c_str() : nullptr);
    return out;
  }

 private:
  std::vector<std::optional<std::string>> values_;
};

/// A query's rows; owns the PGresult.
class rows {
 public:
  explicit rows(PGresult* r) : r_(r) {}
  ~rows() { PQclear(r_); }
  rows(rows&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
  rows(const rows&) = delete;
  rows& operator=(const rows&) = delete;
  rows& operator=(rows&&) = delete;

  [[nodiscard]] int size() const { return PQntuples(r_); }
  [[nodiscard]] bool is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  [[nodiscard]] std::string text(int row, int col) const {
    return std::string(PQgetvalue(r_, row, col),
                       static_cast<std::size_t>(PQgetlength(r_, row, col)));
  }
  [[nodiscard]] std::int64_t i64(int row, int col) const {
    return to_i64(PQgetvalue(r_, row, col));
  }
  [[nodiscard]] bool boolean(int row, int col) const { return PQgetvalue(r_, row, col)[0] == 't'; }
  [[nodiscard]] std::optional<common::time_point> opt_time(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return common::from_unix_ms(i64(row, col));
  }
  /// Rows changed by an INSERT, UPDATE or DELETE.
  [[nodiscard]] std::int64_t affected() const {
    const char* n = PQcmdTuples(r_);
    return *n ? to_i64(n) : 0;
  }

 private:
  PGresult* r_;
};

}  // namespace

/// One libpq connection; statements throw store_unavailable when the server is out of
/// reach, retry_transaction when it asks for a retry, std::runtime_error otherwise.
class pg_session {
 public:
  explicit pg_session(PGconn* c) : c_(c) {}
  ~pg_session() { PQfinish(c_); }
  pg_session(const pg_session&) = delete;
  pg_session& operator=(const pg_session&) = delete;

  [[nodiscard]] PGconn* native() const { return c_; }
  [[nodiscard]] bool healthy() const { return PQstatus(c_) == CONNECTION_OK; }
  [[nodiscard]] bool in_transaction() const {
    return PQtransactionStatus(c_) != PQTRANS_IDLE && PQtransactionStatus(c_) != PQTRANS_UNKNOWN;
  }

  /// One statement, with parameters. Prepared once per connection and kept: parsing and
  /// planning each statement anew was most of the store server's CPU under load.
  rows exec(const char* sql, const params& p = {}) {
    auto ptrs = p.pointers();
    const int n = static_cast<int>(ptrs.size());
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      if (prepared_.size() >= prepared_capacity)  // text made per call: not worth keeping
        return check(PQexecParams(c_, sql, n, nullptr, ptrs.data(), nullptr, nullptr, 0));
      auto name = "apono_" + std::to_string(prepared_.size() + 1);
      (void)check(PQprepare(c_, name.c_str(), sql, n, nullptr));
      it = prepared_.emplace(sql, std::move(name)).first;
    }
    return check(PQexecPrepared(c_, it->second.c_str(), n, ptrs.data(), nullptr, nullptr, 0));
  }
  /// Several statements, without parameters (migrations, settings).
  void exec_script(const char* sql) { (void)check(PQexec(c_, sql)); }

  /// False when an idle connection has been closed by the server (a restart, a terminated
  /// backend): it says so before it goes, and the socket turns readable. Costs a poll.
  [[nodiscard]] bool still_open() {
    if (!healthy()) return false;
    pollfd p{PQsocket(c_), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return true;
    return PQconsumeInput(c_) != 0 && healthy() && (p.revents & (POLLHUP | POLLERR)) == 0;
  }

 private:
  rows check(PGresult* r) {
    rows out(r);
    auto st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return out;
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    std::string code = state ? state : "";
    // The primary message only: DETAIL lines can quote row values.
    const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    std::string msg = first_line(primary ? primary : PQerrorMessage(c_));
    if (code == "40001" || code == "40P01") throw retry_transaction("store: " + msg);
    // Lost connection, server shutting down or starting up, out of connections, a statement
    // or lock wait cut short: all "try again shortly".
    if (!healthy() || code.starts_with("08") || code.starts_with("57P") || code == "53300" ||
        code == "57014" || code == "55P03")
      throw store_unavailable("store unavailable: " + (msg.empty() ? "connection lost" : msg));
    throw std::runtime_error("store: " + msg + (code.empty() ? "" : " (" + code + ")"));
  }

  // The broker's statements number a few dozen; beyond this, text made per call.
  static constexpr std::size_t prepared_capacity = 128;
  PGconn* c_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL -> statement name
};

/// A connection taken from the pool; goes back when destroyed, or is closed if it broke or
/// was left inside a transaction.
class postgres_store::lease {
 public:
  lease(postgres_store& owner, std::unique_ptr<pg_session> c) : owner_(&owner), c_(std::move(c)) {}
  lease(lease&& o) noexcept : owner_(o.owner_), c_(std::move(o.c_)) {}
  lease(const lease&) = delete;
  lease& operator=(const lease&) = delete;
  lease& operator=(lease&&) = delete;
  ~lease() {
    if (c_) owner_->give_back(std::move(c_));
  }
  pg_session* operator->() const { return c_.get(); }
  pg_session& operator*() const { return *c_; }

 private:
  postgres_store* owner_;
  std::unique_ptr<pg_session> c_;
};

namespace {

constexpr const char* request_columns =
    "id, requester, integration, resource_type, bundle, duration_s, justification, status, "
    "end_reason, flow, automatic, created_at, updated_at, active_from, ends_at, decided_by, "
    "reason";

common::access_request request_row(const rows& r, int i) {
  common::access_request q;
  q.id = r.i64(i, 0);
  q.requester = r.text(i, 1);
  q.integration = r.text(i, 2);
  q.resource_type = r.text(i, 3);
  q.bundle = r.text(i, 4);
  q.duration = std::chrono::seconds{r.i64(i, 5)};
  q.justification = r.text(i, 6);
  q.state = status_of(r.text(i, 7));
  q.end_reason = r.text(i, 8);
  q.flow = r.text(i, 9);
  q.automatic = r.boolean(i, 10);
  q.created_at = common::from_unix_ms(r.i64(i, 11));
  q.updated_at = common::from_unix_ms(r.i64(i, 12));
  q.active_from = r.opt_time(i, 13);
  q.ends_at = r.opt_time(i, 14);
  q.decided_by = r.text(i, 15);
  q.reason = r.text(i, 16);
  return q;
}

// `{1,2,3}`: a bigint[] parameter.
std::string id_array(const std::vector<std::int64_t>& ids) {
  std::string out = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out + "}";
}

constexpr const char* delivery_columns =
    "id, endpoint, channel, audit_id, request_id, event_type, webhook_id, payload, status, "
    "attempts, next_attempt_at, give_up_at, last_error, last_http_status, created_at, "
    "delivered_at";

delivery read_delivery(const rows& r, int i) {
  delivery d;
  d.id = r.i64(i, 0);
  d.endpoint = r.text(i, 1);
  d.channel = r.text(i, 2);
  d.audit_id = r.i64(i, 3);
  d.request_id = r.is_null(i, 4) ? 0 : r.i64(i, 4);
  d.event_type = r.text(i, 5);
  d.webhook_id = r.text(i, 6);
  d.payload = r.text(i, 7);
  d.status = r.text(i, 8);
  d.attempts = static_cast<int>(r.i64(i, 9));
  d.next_attempt_at = common::from_unix_ms(r.i64(i, 10));
  d.give_up_at = common::from_unix_ms(r.i64(i, 11));
  d.last_error = r.text(i, 12);
  d.last_http_status = static_cast<int>(r.i64(i, 13));
  d.created_at = common::from_unix_ms(r.i64(i, 14));
  d.delivered_at = r.opt_time(i, 15);
  return d;
}

// The columns id, at, actor, action, request_id, status, detail from column `at` on.
audit_event read_audit_row(const rows& r, int i, int at = 0) {
  audit_event ev;
  ev.id = r.i64(i, at);
  ev.at = common::from_unix_ms(r.i64(i, at + 1));
  ev.actor = r.text(i, at + 2);
  ev.action = r.text(i, at + 3);
  ev.request_id = r.is_null(i, at + 4) ? 0 : r.i64(i, at + 4);
  ev.status = r.text(i, at + 5);
  ev.detail = r.text(i, at + 6);
  return ev;
}

// Fills in the units of every request in `rs` with one query, however many there are.
void load_units(pg_session& c, std::vector<common::access_request>& rs) {
  if (rs.empty()) return;
  std::vector<std::int64_t> ids;
  std::map<std::int64_t, common::access_request*> by_id;
  for (auto& r : rs) {
    ids.push_back(r.id);
    by_id[r.id] = &r;
  }
  auto u = c.exec(
      "SELECT request_id, id, integration, resource_type, resource, permission, status, "
      "last_error FROM units WHERE request_id = ANY($1::bigint[]) ORDER BY id",
      params().add(id_array(ids)));
  for (int i = 0; i < u.size(); ++i) {
    common::access_unit unit;
    unit.id = u.i64(i, 1);
    unit.integration = u.text(i, 2);
    unit.resource_type = u.text(i, 3);
    unit.resource = u.text(i, 4);
    unit.permission = u.text(i, 5);
    unit.state = status_of(u.text(i, 6));
    unit.last_error = u.text(i, 7);
    by_id.at(u.i64(i, 0))->units.push_back(std::move(unit));
  }
}

}  // namespace

class postgres_store::tx final : public store_tx {
 public:
  tx(pg_session& c, bool write, const secret_box* keys) : c_(c), write_(write), keys_(keys) {}

  /// True once a status event was appended: commit must tell the other replicas.
  [[nodiscard]] bool status_changed() const { return status_changed_; }

  std::optional<common::access_request> get_request(std::int64_t id) override {
    return fetch(id, write_ ? " FOR UPDATE" : "");
  }

  std::optional<common::access_request> try_lock_request(std::int64_t id) override {
    return fetch(id, write_ ? " FOR UPDATE SKIP LOCKED" : "");
  }

  std::vector<common::access_request> list_requests(const request_filter& f) override {
    std::string sql = std::string("SELECT ") + request_columns +
                      " FROM requests WHERE ($1::text IS NULL OR requester = $1)"
                      " AND ($2::bigint IS NULL OR created_at > $2)"
                      " AND ($4::bigint IS NULL OR id < $4)";
    if (!f.statuses.empty()) {
      sql += " AND status IN (";
      for (std::size_t i = 0; i < f.statuses.size(); ++i)
        sql += (i ? ",'" : "'") + std::string(common::to_string(f.statuses[i])) + "'";
      sql += ")";
    }
    sql += " ORDER BY id DESC LIMIT $3";
    params p;
    if (f.requester)
      p.add(*f.requester);
    else
      p.null();
    p.add(f.created_after).add(static_cast<std::int64_t>(f.limit));
    if (f.before_id)
      p.add(*f.before_id);
    else
      p.null();
    auto r = c_.exec(sql.c_str(), p);
    std::vector<common::access_request> out;
    for (int i = 0; i < r.size(); ++i) out.push_back(request_row(r, i));
    load_units(c_, out);
    return out;
  }

  void insert_request(common::access_request& r) override {
    auto res = c_.exec(
        "INSERT INTO requests(requester, integration, resource_type, bundle, duration_s, "
        "justification, status, end_reason, flow, automatic, created_at, updated_at, "
        "active_from, ends_at, decided_by, reason) "
        "VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) RETURNING id",
        params()
            .add(r.requester)
            .add(r.integration)
            .add(r.resource_type)
            .add(r.bundle)
            .add(static_cast<std::int64_t>(r.duration.count()))
            .add(r.justification)
            .add(common::to_string(r.state))
            .add(r.end_reason)
            .add(r.flow)
            .add(r.automatic)
            .add(r.created_at)
            .add(r.updated_at)
            .add(r.active_from)
            .add(r.ends_at)
            .add(r.decided_by)
            .add(r.reason));
    r.id = res.i64(0, 0);
    for (auto& u : r.units) {
      auto ur = c_.exec(
          "INSERT INTO units(request_id, integration, resource_type, resource, permission, "
          "status, last_error) VALUES($1,$2,$3,$4,$5,$6,$7) RETURNING id",
          params()
              .add(r.id)
              .add(u.integration)
              .add(u.resource_type)
              .add(u.resource)
              .add(u.permission)
              .add(common::to_string(u.state))
              .add(u.last_error));
      u.id = ur.i64(0, 0);
    }
  }

  void update_request(const common::access_request& r) override {
    auto res = c_.exec(
        "UPDATE requests SET status=$1, end_reason=$2, updated_at=$3, active_from=$4, "
        "ends_at=$5, decided_by=$6, reason=$7, justification=$8 WHERE id=$9",
        params()
            .add(common::to_string(r.state))
            .add(r.end_reason)
            .add(r.updated_at)
            .add(r.active_from)
            .add(r.ends_at)
            .add(r.decided_by)
            .add(r.reason)
            .add(r.justification)
            .add(r.id));
    if (res.affected() != 1) throw std::runtime_error("store: no request " + std::to_string(r.id));
    for (const auto& u : r.units)
      (void)c_.exec("UPDATE units SET status=$1, last_error=$2 WHERE id=$3 AND request_id=$4",
                    params().add(common::to_string(u.state)).add(u.last_error).add(u.id).add(r.id));
  }

  unit_state get_unit_state(std::int64_t unit_id) override {
    auto r = c_.exec(
        "SELECT request_id, login, secret, attempts, next_attempt_at, last_error, secret_key_id "
        "FROM units WHERE id = $1",
        params().add(unit_id));
    if (r.size() == 0) throw std::runtime_error("store: no unit " + std::to_string(unit_id));
    unit_state st;
    st.unit_id = unit_id;
    st.request_id = r.i64(0, 0);
    st.login = r.text(0, 1);
    st.secret = open_unit_secret(keys_, unit_id, {r.text(0, 6), r.text(0, 2)});
    st.attempts = static_cast<int>(r.i64(0, 3));
    st.next_attempt_at = common::from_unix_ms(r.i64(0, 4));
    st.last_error = r.text(0, 5);
    return st;
  }

  void put_unit_state(const unit_state& st) override {
    auto old =
        c_.exec("SELECT secret, secret_key_id FROM units WHERE id = $1", params().add(st.unit_id));
    sealed_secret held;
    if (old.size() == 1) held = {old.text(0, 1), old.text(0, 0)};
    auto stored = unit_secret_to_store(keys_, st.unit_id, held, st.secret);
    (void)c_.exec(
        "UPDATE units SET login=$1, secret=$2, secret_key_id=$3, attempts=$4, "
        "next_attempt_at=$5, last_error=$6 WHERE id=$7",
        params()
            .add(st.login)
            .add(stored.text)
            .add(stored.key_id)
            .add(std::int64_t{st.attempts})
            .add(st.next_attempt_at)
            .add(st.last_error)
            .add(st.unit_id));
  }

  std::int64_t append_audit(const audit_event& ev) override {
    if (!audit_locked_) {
      // Held to commit: see the file comment on audit ids.
      (void)c_.exec("SELECT pg_advisory_xact_lock($1)", params().add(audit_lock_key));
      audit_locked_ = true;
    }
    params p;
    p.add(ev.at).add(ev.actor).add(ev.action);
    if (ev.request_id)
      p.add(ev.request_id);
    else
      p.null();
    if (ev.status.empty())
      p.null();
    else
      p.add(ev.status);
    p.add(ev.detail.empty() ? std::string("{}") : ev.detail);
    auto r = c_.exec(
        "INSERT INTO audit(at, actor, action, request_id, status, detail) "
        "VALUES($1,$2,$3,$4,$5,$6) RETURNING id",
        p);
    if (!ev.status.empty()) status_changed_ = true;
    return r.i64(0, 0);
  }

  void insert_token(const std::string& hash, const std::string& user, common::time_point now,
                    const std::string& description, common::time_point expires_at) override {
    (void)c_.exec(
        "INSERT INTO api_tokens(hash, username, created_at, description, expires_at) "
        "VALUES($1,$2,$3,$4,$5)",
        params().add(hash).add(user).add(now).add(description).add(expires_at));
  }

  login_window add_login_failure(const std::string& subject, common::time_point now,
                                 std::chrono::milliseconds window) override {
    // One statement: replicas counting the same subject at once each add their one.
    auto r = c_.exec(
        "INSERT INTO login_failures(subject, window_start, failures) VALUES($1, $2, 1) "
        "ON CONFLICT(subject) DO UPDATE SET "
        "failures = CASE WHEN login_failures.window_start <= $2::bigint - $3::bigint THEN 1 "
        "ELSE login_failures.failures + 1 END, "
        "window_start = CASE WHEN login_failures.window_start <= $2::bigint - $3::bigint "
        "THEN $2::bigint ELSE login_failures.window_start END "
        "RETURNING failures, window_start",
        params().add(subject).add(now).add(static_cast<std::int64_t>(window.count())));
    return {static_cast<int>(r.i64(0, 0)), common::from_unix_ms(r.i64(0, 1)) + window};
  }

  login_window login_failures(const std::string& subject, common::time_point now,
                              std::chrono::milliseconds window) override {
    auto r = c_.exec("SELECT failures, window_start FROM login_failures WHERE subject = $1",
                     params().add(subject));
    if (r.size() == 0) return {};
    auto ends = common::from_unix_ms(r.i64(0, 1)) + window;
    if (ends <= now) return {};
    return {static_cast<int>(r.i64(0, 0)), ends};
  }

  void clear_login_failures(const std::string& subject) override {
    (void)c_.exec("DELETE FROM login_failures WHERE subject = $1", params().add(subject));
  }

  bool revoke_token(const std::string& hash, common::time_point now) override {
    auto r = c_.exec("UPDATE api_tokens SET revoked_at = $1 WHERE hash = $2 AND revoked_at IS NULL",
                     params().add(now).add(hash));
    return r.affected() == 1;
  }

  void insert_auth_code(const auth_code& code, common::time_point now) override {
    // Nothing can use an expired code, so each new one sweeps the old ones out.
    (void)c_.exec("DELETE FROM auth_codes WHERE expires_at <= $1", params().add(now));
    (void)c_.exec(
        "INSERT INTO auth_codes(code_hash, username, challenge, redirect_uri, expires_at) "
        "VALUES($1,$2,$3,$4,$5)",
        params()
            .add(code.code_hash)
            .add(code.user)
            .add(code.challenge)
            .add(code.redirect_uri)
            .add(code.expires_at));
  }

  std::optional<auth_code> take_auth_code(const std::string& code_hash,
                                          common::time_point now) override {
    auto r = c_.exec(
        "UPDATE auth_codes SET used = true WHERE code_hash = $1 AND NOT used AND expires_at > $2 "
        "RETURNING username, challenge, redirect_uri, expires_at",
        params().add(code_hash).add(now));
    if (r.size() == 0) return std::nullopt;
    auth_code c;
    c.code_hash = code_hash;
    c.user = r.text(0, 0);
    c.challenge = r.text(0, 1);
    c.redirect_uri = r.text(0, 2);
    c.expires_at = common::from_unix_ms(r.i64(0, 3));
    return c;
  }

  void insert_browser_session(const std::string& hash, const std::string& user,
                              common::time_point now, common::time_point expires_at,
                              common::time_point idle_before) override {
    // Each sign-in sweeps out the sessions nobody can use any more; a table of the sessions
    // alive at once needs no index for that.
    (void)c_.exec("DELETE FROM browser_sessions WHERE expires_at <= $1 OR last_seen_at <= $2",
                  params().add(now).add(idle_before));
    (void)c_.exec(
        "INSERT INTO browser_sessions(hash, username, created_at, last_seen_at, expires_at) "
        "VALUES($1, $2, $3, $3, $4)",
        params().add(hash).add(user).add(now).add(expires_at));
  }

  bool delete_browser_session(const std::string& hash) override {
    return c_.exec("DELETE FROM browser_sessions WHERE hash = $1", params().add(hash)).affected() ==
           1;
  }

  std::optional<common::access_request> read_request(std::int64_t id) override {
    return fetch(id, "");
  }

  std::vector<audit_event> read_audit(std::int64_t after, std::size_t limit) override {
    auto r = c_.exec(
        "SELECT id, at, actor, action, request_id, status, detail FROM audit WHERE id > $1 "
        "ORDER BY id LIMIT $2",
        params().add(after).add(static_cast<std::int64_t>(limit)));
    std::vector<audit_event> out;
    for (int i = 0; i < r.size(); ++i) out.push_back(read_audit_row(r, i));
    return out;
  }

  std::int64_t notify_cursor() override {
    auto r = c_.exec(write_ ? "SELECT last_audit_id FROM notify_cursor WHERE id = 1 FOR UPDATE"
                            : "SELECT last_audit_id FROM notify_cursor WHERE id = 1");
    return r.size() ? r.i64(0, 0) : 0;
  }

  void set_notify_cursor(std::int64_t audit_id) override {
    (void)c_.exec("UPDATE notify_cursor SET last_audit_id = $1 WHERE id = 1",
                  params().add(audit_id));
  }

  bool insert_delivery(delivery& d) override {
    params p;
    p.add(d.endpoint).add(d.channel).add(d.audit_id);
    if (d.request_id)
      p.add(d.request_id);
    else
      p.null();
    p.add(d.event_type).add(d.webhook_id).add(d.payload).add(d.status);
    p.add(std::int64_t{d.attempts}).add(d.next_attempt_at).add(d.give_up_at).add(d.last_error);
    p.add(std::int64_t{d.last_http_status}).add(d.created_at).add(d.delivered_at);
    auto r = c_.exec(
        "INSERT INTO deliveries(endpoint, channel, audit_id, request_id, event_type, webhook_id, "
        "payload, status, attempts, next_attempt_at, give_up_at, last_error, last_http_status, "
        "created_at, delivered_at) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15) "
        "ON CONFLICT(endpoint, audit_id, event_type) DO NOTHING RETURNING id",
        p);
    if (r.size() == 0) return false;
    d.id = r.i64(0, 0);
    return true;
  }

  std::optional<delivery> get_delivery(std::int64_t id) override {
    std::string sql = std::string("SELECT ") + delivery_columns + " FROM deliveries WHERE id = $1";
    auto r = c_.exec(sql.c_str(), params().add(id));
    if (r.size() == 0) return std::nullopt;
    return read_delivery(r, 0);
  }

  void update_delivery(const delivery& d) override {
    auto r = c_.exec(
        "UPDATE deliveries SET status=$1, attempts=$2, next_attempt_at=$3, give_up_at=$4, "
        "last_error=$5, last_http_status=$6, delivered_at=$7 WHERE id=$8",
        params()
            .add(d.status)
            .add(std::int64_t{d.attempts})
            .add(d.next_attempt_at)
            .add(d.give_up_at)
            .add(d.last_error)
            .add(std::int64_t{d.last_http_status})
            .add(d.delivered_at)
            .add(d.id));
    if (r.affected() != 1) throw std::runtime_error("store: no delivery " + std::to_string(d.id));
  }

  std::vector<delivery> list_deliveries(const delivery_filter& f) override {
    std::string sql = std::string("SELECT ") + delivery_columns +
                      " FROM deliveries WHERE ($1::text IS NULL OR status = $1)"
                      " AND ($2::text IS NULL OR endpoint = $2"
                      " OR substr(endpoint, 1, length($2::text) + 1) = $2::text || ':')"
                      " AND ($3::bigint IS NULL OR id < $3)"
                      " ORDER BY id DESC LIMIT $4";
    params p;
    if (f.status)
      p.add(*f.status);
    else
      p.null();
    if (f.endpoint)
      p.add(*f.endpoint);
    else
      p.null();
    if (f.before_id)
      p.add(*f.before_id);
    else
      p.null();
    p.add(static_cast<std::int64_t>(f.limit));
    auto r = c_.exec(sql.c_str(), p);
    std::vector<delivery> out;
    for (int i = 0; i < r.size(); ++i) out.push_back(read_delivery(r, i));
    return out;
  }

  std::vector<endpoint_state> endpoint_states() override {
    auto r =
        c_.exec("SELECT name, disabled_at, disabled_reason FROM notify_endpoints ORDER BY name");
    std::vector<endpoint_state> out;
    for (int i = 0; i < r.size(); ++i)
      out.push_back({r.text(i, 0), r.opt_time(i, 1), r.text(i, 2)});
    return out;
  }

  void set_endpoint_state(const std::string& name, std::optional<common::time_point> at,
                          const std::string& reason) override {
    (void)c_.exec(
        "INSERT INTO notify_endpoints(name, disabled_at, disabled_reason) VALUES($1, $2, $3) "
        "ON CONFLICT(name) DO UPDATE SET disabled_at = $2, disabled_reason = $3",
        params().add(name).add(at).add(at ? reason : std::string()));
  }

  std::int64_t end_pending_deliveries(const std::string& endpoint,
                                      const std::string& reason) override {
    return c_
        .exec(
            "UPDATE deliveries SET status = 'dead', last_error = $1 WHERE endpoint = $2 AND "
            "status = 'pending'",
            params().add(reason).add(endpoint))
        .affected();
  }

  std::int64_t prune_deliveries(common::time_point before, std::size_t limit) override {
    // By the due index (status, next_attempt_at); rows another replica deletes at the same
    // moment are skipped rather than waited for.
    return c_
        .exec(
            "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE status IN "
            "('delivered','dead') AND next_attempt_at < $1 ORDER BY next_attempt_at LIMIT $2 "
            "FOR UPDATE SKIP LOCKED)",
            params().add(common::to_unix_ms(before)).add(static_cast<std::int64_t>(limit)))
        .affected();
  }

  std::optional<audit_event> last_request_audit(std::int64_t request_id,
                                                const std::string& action) override {
    auto r = c_.exec(
        "SELECT id, at, actor, action, request_id, status, detail FROM audit "
        "WHERE request_id = $1 AND action = $2 ORDER BY id DESC LIMIT 1",
        params().add(request_id).add(action));
    if (r.size() == 0) return std::nullopt;
    return read_audit_row(r, 0);
  }

  bool remember_slack_request(const std::string& key, common::time_point expires_at,
                              common::time_point now) override {
    // The window keeps this table to a few minutes of requests: each new one sweeps it
    // (skipping rows another replica is deleting at the same moment).
    (void)c_.exec(
        "DELETE FROM slack_requests_seen WHERE key IN (SELECT key FROM slack_requests_seen "
        "WHERE expires_at <= $1 LIMIT 1000 FOR UPDATE SKIP LOCKED)",
        params().add(common::to_unix_ms(now)));
    return c_.exec(
                 "INSERT INTO slack_requests_seen(key, expires_at) VALUES($1, $2) "
                 "ON CONFLICT DO NOTHING",
                 params().add(key).add(common::to_unix_ms(expires_at)))
               .affected() == 1;
  }

  bool insert_slack_message(const slack_message_ref& m) override {
    return c_.exec(
                 "INSERT INTO slack_messages(webhook_id, request_id, username, role, channel, "
                 "ts, created_at) VALUES($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING",
                 params()
                     .add(m.webhook_id)
                     .add(m.request_id)
                     .add(m.user)
                     .add(m.role)
                     .add(m.channel)
                     .add(m.ts)
                     .add(common::to_unix_ms(m.created_at)))
               .affected() == 1;
  }

  std::optional<slack_message_ref> slack_message_by_delivery(
      const std::string& webhook_id) override {
    auto r = c_.exec(
        "SELECT webhook_id, request_id, username, role, channel, ts, created_at FROM "
        "slack_messages WHERE webhook_id = $1",
        params().add(webhook_id));
    if (r.size() == 0) return std::nullopt;
    return slack_row(r, 0);
  }

  std::vector<slack_message_ref> slack_messages(std::int64_t request_id) override {
    auto r = c_.exec(
        "SELECT webhook_id, request_id, username, role, channel, ts, created_at FROM "
        "slack_messages WHERE request_id = $1 ORDER BY created_at, webhook_id",
        params().add(request_id));
    std::vector<slack_message_ref> out;
    for (int i = 0; i < r.size(); ++i) out.push_back(slack_row(r, i));
    return out;
  }

  std::int64_t prune_slack_messages(common::time_point before, std::size_t limit) override {
    // Rows another replica deletes at the same moment are skipped rather than waited for.
    return c_
        .exec(
            "DELETE FROM slack_messages WHERE webhook_id IN (SELECT m.webhook_id FROM "
            "slack_messages m JOIN requests r ON r.id = m.request_id WHERE r.status IN "
            "('EXPIRED','REVOKED','REJECTED','FAILED') AND r.updated_at < $1 LIMIT $2 "
            "FOR UPDATE OF m SKIP LOCKED)",
            params().add(common::to_unix_ms(before)).add(static_cast<std::int64_t>(limit)))
        .affected();
  }

 private:
  static slack_message_ref slack_row(const rows& r, int i) {
    slack_message_ref m;
    m.webhook_id = r.text(i, 0);
    m.request_id = r.i64(i, 1);
    m.user = r.text(i, 2);
    m.role = r.text(i, 3);
    m.channel = r.text(i, 4);
    m.ts = r.text(i, 5);
    m.created_at = common::from_unix_ms(r.i64(i, 6));
    return m;
  }

  std::optional<common::access_request> fetch(std::int64_t id, const char* lock) {
    std::string sql =
        std::string("SELECT ") + request_columns + " FROM requests WHERE id = $1" + lock;
    auto r = c_.exec(sql.c_str(), params().add(id));
    if (r.size() == 0) return std::nullopt;
    std::vector<common::access_request> one{request_row(r, 0)};
    load_units(c_, one);
    return std::move(one.front());
  }

  pg_session& c_;
  bool write_;
  const secret_box* keys_;
  bool audit_locked_ = false;
  bool status_changed_ = false;
};

postgres_store::postgres_store(postgres_store_options options) : options_(std::move(options)) {
  if (options_.pool_size < 1) options_.pool_size = 1;
  {
    auto c = acquire(options_.acquire_timeout);
    (void)c->exec("BEGIN");
    try {
      // Replicas starting together: the first migrates, the others wait and find it done.
      (void)c->exec("SELECT pg_advisory_xact_lock($1)", params().add(migrate_lock_key));
      (void)c->exec(
          "CREATE TABLE IF NOT EXISTS apono_schema(version INTEGER NOT NULL, "
          "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
      auto v = c->exec("SELECT coalesce(max(version), 0) FROM apono_schema");
      int version = static_cast<int>(v.i64(0, 0));
      constexpr int latest = static_cast<int>(std::size(migrations));
      if (version > latest)
        throw std::runtime_error("store: the database has schema version " +
                                 std::to_string(version) + ", newer than this aponod (" +
                                 std::to_string(latest) + ")");
      for (int next = version; next < latest; ++next) {
        c->exec_script(migrations[next]);
        (void)c->exec("INSERT INTO apono_schema(version) VALUES($1)",
                      params().add(std::int64_t{next + 1}));
      }
      (void)c->exec("COMMIT");
    } catch (...) {
      if (c->healthy()) PQclear(PQexec(c->native(), "ROLLBACK"));
      throw;
    }
  }
  listener_ = std::thread([this] { listen_loop(); });
}

postgres_store::~postgres_store() {
  {
    std::lock_guard lock(listen_mutex_);
    stopping_ = true;
  }
  listen_cv_.notify_all();
  if (listener_.joinable()) listener_.join();
}

std::unique_ptr<pg_session> postgres_store::connect() const {
  // Defaults first, so the URL can override them; expand_dbname makes libpq read the URL.
  const char* keys[] = {"connect_timeout",
                        "application_name",
                        "keepalives_idle",
                        "keepalives_interval",
                        "keepalives_count",
                        "dbname",
                        nullptr};
  const char* values[] = {"5", "aponod", "10", "5", "3", options_.url.c_str(), nullptr};
  PGconn* raw = PQconnectdbParams(keys, values, 1);
  if (!raw) throw store_unavailable("store unavailable: out of memory");
  auto c = std::make_unique<pg_session>(raw);
  // libpq prints notices ("relation already exists, skipping") on stderr by default.
  PQsetNoticeProcessor(
      raw, [](void*, const char* message) { spdlog::debug("store: {}", first_line(message)); },
      nullptr);
  if (!c->healthy())
    // libpq's message names the host and port and the reason, never the password.
    throw store_unavailable("store unavailable: " + first_line(PQerrorMessage(raw)));
  c->exec_script(("SET statement_timeout = '" + std::to_string(options_.statement_timeout.count()) +
                  "s'; SET lock_timeout = '10s'; SET idle_in_transaction_session_timeout = '60s'")
                     .c_str());
  return c;
}

postgres_store::lease postgres_store::acquire(std::chrono::milliseconds timeout) {
  std::unique_lock lock(pool_mutex_);
  auto until = std::chrono::steady_clock::now() + timeout;
  while (idle_.empty() && open_ >= options_.pool_size)
    if (pool_cv_.wait_until(lock, until) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.pool_size)
      throw store_unavailable("store unavailable: all " + std::to_string(options_.pool_size) +
                              " connections busy");
  while (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    if (c->still_open()) return lease(*this, std::move(c));
    --open_;  // closed by the server while idle: drop it and try the next
  }
  ++open_;
  lock.unlock();
  try {
    return lease(*this, connect());
  } catch (...) {
    lock.lock();
    --open_;
    pool_cv_.notify_one();
    throw;
  }
}

void postgres_store::give_back(std::unique_ptr<pg_session> c) {
  std::lock_guard lock(pool_mutex_);
  if (c->healthy() && !c->in_transaction()) {
    idle_.push_back(std::move(c));
  } else {
    --open_;  // closed as it goes out of scope; the next acquire connects afresh
  }
  pool_cv_.notify_one();
}

void postgres_store::run_tx(const std::function<void(store_tx&)>& fn, bool write) {
  for (int attempt = 1;; ++attempt) {
    auto c = acquire(options_.acquire_timeout);
    try {
      // A read sees one snapshot: at READ COMMITTED each statement sees its own, and a request
      // read before a transition committed could come with its units read after it (scripts/chaos
      // --replicas caught an ACTIVE request with REVOKING units). Read-only transactions at
      // REPEATABLE READ never fail to serialize. Writes lock what they decide on instead.
      (void)c->exec(write ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
      tx t(*c, write, options_.keys.get());
      fn(t);
      if (t.status_changed())
        (void)c->exec("SELECT pg_notify($1, '')", params().add(notify_channel));
      (void)c->exec("COMMIT");
      return;
    } catch (const retry_transaction& e) {
      if (c->healthy()) PQclear(PQexec(c->native(), "ROLLBACK"));
      if (attempt >= max_attempts)
        throw store_unavailable("store unavailable: " + std::string(e.what()) + " (" +
                                std::to_string(attempt) + " attempts)");
      std::this_thread::sleep_for(std::chrono::milliseconds{5 * attempt});
    } catch (...) {
      if (c->healthy() && c->in_transaction()) PQclear(PQexec(c->native(), "ROLLBACK"));
      throw;
    }
  }
}

void postgres_store::transact(const std::function<void(store_tx&)>& fn) {
  run_tx(fn, true);
}

void postgres_store::read(const std::function<void(store_tx&)>& fn) {
  run_tx(fn, false);
}

due_work postgres_store::find_due(common::time_point now, common::time_point stale_before) {
  due_work w;
  const auto now_ms = common::to_unix_ms(now);
  {
    std::lock_guard lock(claim_mutex_);
    if (claim_conn_ && !claim_conn_->healthy()) {
      // Its locks went with it; units this process still works on are guarded by the
      // scheduler's in-flight set until they are released.
      claim_conn_.reset();
      claimed_.clear();
      claimed_deliveries_.clear();
    }
    if (!claim_conn_) claim_conn_ = connect();
    std::vector<std::int64_t> held(claimed_.begin(), claimed_.end());
    // Candidates first, then a lock try on each: the outer WHERE runs once per candidate, so
    // every lock taken is a row returned. A session lock is re-entrant, hence the exclusion of
    // what this session already holds.
    auto r = claim_conn_->exec(
        "WITH due AS MATERIALIZED ("
        " SELECT id, status, next_attempt_at FROM units"
        " WHERE status IN ('GRANTING','REVOKING') AND next_attempt_at <= $1"
        " AND NOT (id = ANY($2::bigint[])) ORDER BY next_attempt_at, id LIMIT 500)"
        " SELECT id, status FROM due WHERE pg_try_advisory_lock($3::bigint + id)"
        " ORDER BY next_attempt_at, id",
        params().add(now_ms).add(id_array(held)).add(claim_key_base));
    for (int i = 0; i < r.size(); ++i) {
      claimed_.insert(r.i64(i, 0));
      (r.text(i, 1) == "GRANTING" ? w.units_to_grant : w.units_to_revoke).push_back(r.i64(i, 0));
    }
  }
  auto c = acquire(options_.acquire_timeout);
  auto e = c->exec(
      "SELECT id FROM requests WHERE status = 'ACTIVE' AND ends_at <= $1 ORDER BY ends_at "
      "LIMIT 1000",
      params().add(now_ms));
  for (int i = 0; i < e.size(); ++i) w.requests_to_expire.push_back(e.i64(i, 0));
  auto s = c->exec(
      "SELECT id FROM requests WHERE status = 'PENDING' AND created_at <= $1 ORDER BY id "
      "LIMIT 1000",
      params().add(stale_before));
  for (int i = 0; i < s.size(); ++i) w.requests_stale.push_back(s.i64(i, 0));
  return w;
}

std::vector<delivery> postgres_store::find_due_deliveries(common::time_point now,
                                                          std::size_t limit) {
  std::lock_guard lock(claim_mutex_);
  if (claim_conn_ && !claim_conn_->healthy()) {
    claim_conn_.reset();
    claimed_.clear();
    claimed_deliveries_.clear();
  }
  if (!claim_conn_) claim_conn_ = connect();
  std::vector<std::int64_t> held(claimed_deliveries_.begin(), claimed_deliveries_.end());
  // As find_due's units: candidates first, then a lock try on each, so every lock taken is a
  // row returned; what this session holds already is left out (its locks are re-entrant).
  std::string sql = std::string("WITH due AS MATERIALIZED (SELECT ") + delivery_columns +
                    " FROM deliveries d WHERE status = 'pending' AND next_attempt_at <= $1"
                    " AND NOT (id = ANY($2::bigint[]))"
                    " AND NOT EXISTS (SELECT 1 FROM notify_endpoints e WHERE e.name = d.endpoint"
                    "  AND e.disabled_at IS NOT NULL)"
                    " AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.status = 'pending'"
                    "  AND p.endpoint = d.endpoint AND p.request_id = d.request_id AND p.id < d.id)"
                    " ORDER BY next_attempt_at, id LIMIT $4)"
                    " SELECT * FROM due WHERE pg_try_advisory_lock($3::bigint + id)"
                    " ORDER BY next_attempt_at, id";
  auto r = claim_conn_->exec(sql.c_str(), params()
                                              .add(common::to_unix_ms(now))
                                              .add(id_array(held))
                                              .add(delivery_claim_key_base)
                                              .add(static_cast<std::int64_t>(limit)));
  std::vector<delivery> out;
  for (int i = 0; i < r.size(); ++i) {
    out.push_back(read_delivery(r, i));
    claimed_deliveries_.insert(out.back().id);
  }
  return out;
}

std::vector<notice_candidate> postgres_store::notice_candidates(common::time_point made_before,
                                                                common::time_point ending_before) {
  auto c = acquire(options_.acquire_timeout);
  // The last notice by the audit index (request_id, id), as in the SQLite store.
  auto r = c->exec(
      "SELECT r.id, r.status, r.created_at, r.active_from, r.ends_at, a.id, a.at, a.actor, "
      "a.action, a.request_id, a.status, a.detail FROM requests r LEFT JOIN audit a ON a.id = "
      "(SELECT max(x.id) FROM audit x WHERE x.request_id = r.id AND x.action = CASE r.status "
      "WHEN 'PENDING' THEN 'request.reminder' ELSE 'request.expiring_soon' END) "
      "WHERE (r.status = 'PENDING' AND r.created_at <= $1) OR "
      "(r.status = 'ACTIVE' AND r.ends_at <= $2) ORDER BY r.id",
      params().add(common::to_unix_ms(made_before)).add(common::to_unix_ms(ending_before)));
  std::vector<notice_candidate> out;
  for (int i = 0; i < r.size(); ++i) {
    notice_candidate n;
    n.request_id = r.i64(i, 0);
    n.state = status_of(r.text(i, 1));
    n.created_at = common::from_unix_ms(r.i64(i, 2));
    n.active_from = r.opt_time(i, 3);
    n.ends_at = r.opt_time(i, 4);
    if (!r.is_null(i, 5)) n.last = read_audit_row(r, i, 5);
    out.push_back(std::move(n));
  }
  return out;
}

void postgres_store::release_delivery(std::int64_t id) {
  std::lock_guard lock(claim_mutex_);
  if (claimed_deliveries_.erase(id) == 0 || !claim_conn_) return;
  try {
    (void)claim_conn_->exec("SELECT pg_advisory_unlock($1::bigint + $2)",
                            params().add(delivery_claim_key_base).add(id));
  } catch (const store_unavailable&) {
    // The connection is gone and its locks with it; the next find reconnects.
  }
}

std::optional<common::time_point> postgres_store::next_delivery_due() {
  auto c = acquire(options_.acquire_timeout);
  // Only what could be claimed (see the SQLite store).
  auto r = c->exec(
      "SELECT min(next_attempt_at) FROM deliveries d WHERE status = 'pending'"
      " AND NOT EXISTS (SELECT 1 FROM notify_endpoints e WHERE e.name = d.endpoint"
      "  AND e.disabled_at IS NOT NULL)"
      " AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.status = 'pending'"
      "  AND p.endpoint = d.endpoint AND p.request_id = d.request_id AND p.id < d.id)");
  if (r.size() == 0 || r.is_null(0, 0)) return std::nullopt;
  return common::from_unix_ms(r.i64(0, 0));
}

delivery_stats postgres_store::count_deliveries() {
  auto c = acquire(options_.acquire_timeout);
  auto r = c->exec(
      "SELECT (SELECT count(*) FROM deliveries WHERE status = 'pending'),"
      " (SELECT min(created_at) FROM deliveries WHERE status = 'pending'),"
      " (SELECT count(*) FROM notify_endpoints WHERE disabled_at IS NOT NULL)");
  delivery_stats out;
  out.pending = r.i64(0, 0);
  out.oldest_pending = r.opt_time(0, 1);
  out.endpoints_disabled = r.i64(0, 2);
  return out;
}

void postgres_store::release_unit(std::int64_t unit_id) {
  std::lock_guard lock(claim_mutex_);
  if (claimed_.erase(unit_id) == 0 || !claim_conn_) return;
  try {
    (void)claim_conn_->exec("SELECT pg_advisory_unlock($1::bigint + $2)",
                            params().add(claim_key_base).add(unit_id));
  } catch (const store_unavailable&) {
    // The connection is gone and its locks with it; find_due reconnects.
  }
}

void postgres_store::on_remote_change(std::function<void()> fn) {
  std::lock_guard lock(listen_mutex_);
  on_change_ = std::move(fn);
}

void postgres_store::listen_loop() {
  std::unique_ptr<pg_session> c;
  // Called under the lock, so once on_remote_change(nullptr) returns no call is running and
  // the owner may tear down what the callback touches.
  auto fire = [this] {
    std::lock_guard lock(listen_mutex_);
    if (on_change_) on_change_();
  };
  auto stopping = [this] {
    std::lock_guard lock(listen_mutex_);
    return stopping_;
  };
  bool was_lost = false;
  while (!stopping()) {
    if (!c || !c->healthy()) {
      c.reset();
      try {
        c = connect();
        (void)c->exec((std::string("LISTEN ") + notify_channel).c_str());
        // Whatever was committed while we were not listening: look again.
        if (was_lost) fire();
        was_lost = false;
      } catch (const std::exception& e) {
        if (!was_lost) spdlog::warn("store: change listener: {}", e.what());
        was_lost = true;
        c.reset();
        std::unique_lock lock(listen_mutex_);
        listen_cv_.wait_for(lock, 500ms, [this] { return stopping_; });
        continue;
      }
    }
    pollfd p{PQsocket(c->native()), POLLIN, 0};
    // A short poll so a stop is noticed promptly without a wake-up pipe.
    int n = ::poll(&p, 1, 200);
    if (n <= 0) continue;
    if (!PQconsumeInput(c->native())) {
      spdlog::warn("store: change listener lost its connection: {}",
                   first_line(PQerrorMessage(c->native())));
      c.reset();
      was_lost = true;
      continue;
    }
    bool any = false;
    while (PGnotify* note = PQnotifies(c->native())) {
      any = true;
      PQfreemem(note);
    }
    if (any) fire();
  }
}

std::optional<common::time_point> postgres_store::next_due(std::chrono::milliseconds pending_ttl) {
  auto c = acquire(options_.acquire_timeout);
  auto r = c->exec(
      "SELECT min(t) FROM ("
      " SELECT min(next_attempt_at) AS t FROM units WHERE status IN ('GRANTING','REVOKING')"
      " UNION ALL SELECT min(ends_at) FROM requests WHERE status = 'ACTIVE'"
      " UNION ALL SELECT min(created_at) + $1 FROM requests WHERE status = 'PENDING') AS due",
      params().add(static_cast<std::int64_t>(pending_ttl.count())));
  if (r.size() == 0 || r.is_null(0, 0)) return std::nullopt;
  return common::from_unix_ms(r.i64(0, 0));
}

std::vector<audit_event> postgres_store::audit_after(std::int64_t after,
                                                     std::optional<std::int64_t> request_id,
                                                     bool status_only, std::size_t limit) {
  auto c = acquire(options_.acquire_timeout);
  params p;
  p.add(after);
  if (request_id)
    p.add(*request_id);
  else
    p.null();
  p.add(status_only).add(static_cast<std::int64_t>(limit));
  // Two statements, so one request's events use audit_request: a generic plan of the
  // `$2 IS NULL OR request_id = $2` form walks the whole log by id.
  auto r = c->exec(
      request_id
          ? "SELECT id, at, actor, action, request_id, status, detail FROM audit "
            "WHERE request_id = $2 AND id > $1 AND (NOT $3::boolean OR status IS NOT NULL) "
            "ORDER BY id LIMIT $4"
          : "SELECT id, at, actor, action, request_id, status, detail FROM audit "
            "WHERE id > $1 AND $2::bigint IS NULL AND (NOT $3::boolean OR status IS NOT NULL) "
            "ORDER BY id LIMIT $4",
      p);
  std::vector<audit_event> out;
  for (int i = 0; i < r.size(); ++i) {
    audit_event ev;
    ev.id = r.i64(i, 0);
    ev.at = common::from_unix_ms(r.i64(i, 1));
    ev.actor = r.text(i, 2);
    ev.action = r.text(i, 3);
    ev.request_id = r.is_null(i, 4) ? 0 : r.i64(i, 4);
    ev.status = r.text(i, 5);
    ev.detail = r.text(i, 6);
    out.push_back(std::move(ev));
  }
  return out;
}

std::int64_t postgres_store::last_audit_id() {
  auto c = acquire(options_.acquire_timeout);
  auto r = c->exec("SELECT coalesce(max(id), 0) FROM audit");
  return r.i64(0, 0);
}

std::vector<std::pair<status, std::int64_t>> postgres_store::count_by_status() {
  auto c = acquire(options_.acquire_timeout);
  auto r = c->exec("SELECT status, count(*) FROM requests GROUP BY status ORDER BY status");
  std::vector<std::pair<status, std::int64_t>> out;
  for (int i = 0; i < r.size(); ++i) out.emplace_back(status_of(r.text(i, 0)), r.i64(i, 1));
  return out;
}

std::int64_t postgres_store::count_stuck_revocations(int min_attempts) {
  auto c = acquire(options_.acquire_timeout);
  auto r = c->exec("SELECT count(*) FROM units WHERE status = 'REVOKING' AND attempts >= $1",
                   params().add(std::int64_t{min_attempts}));
  return r.i64(0, 0);
}

std::optional<stored_token> postgres_store::find_token(const std::string& hash,
                                                       common::time_point now) {
  auto c = acquire(options_.acquire_timeout);
  const auto now_ms = common::to_unix_ms(now);
  auto r = c->exec(
      "SELECT username, last_used_at, expires_at FROM api_tokens WHERE hash = $1 AND revoked_at "
      "IS NULL",
      params().add(hash));
  if (r.size() == 0) return std::nullopt;
  stored_token t{r.text(0, 0), common::from_unix_ms(r.i64(0, 2))};
  if (t.expires_at > now && (r.is_null(0, 1) || r.i64(0, 1) <= now_ms - token_touch_interval_ms))
    (void)c->exec("UPDATE api_tokens SET last_used_at = $1 WHERE hash = $2",
                  params().add(now_ms).add(hash));
  return t;
}

std::optional<browser_session> postgres_store::find_browser_session(const std::string& hash) {
  auto c = acquire(options_.acquire_timeout);
  auto r = c->exec(
      "SELECT username, created_at, last_seen_at, expires_at FROM browser_sessions "
      "WHERE hash = $1",
      params().add(hash));
  if (r.size() == 0) return std::nullopt;
  return browser_session{r.text(0, 0), common::from_unix_ms(r.i64(0, 1)),
                         common::from_unix_ms(r.i64(0, 2)), common::from_unix_ms(r.i64(0, 3))};
}

bool postgres_store::touch_browser_session(const std::string& hash, common::time_point now,
                                           std::chrono::milliseconds min_interval) {
  auto c = acquire(options_.acquire_timeout);
  // The condition in the statement, so replicas touching the same session at once write once.
  auto r = c->exec(
      "UPDATE browser_sessions SET last_seen_at = $1 WHERE hash = $2 AND last_seen_at <= $3",
      params().add(now).add(hash).add(common::to_unix_ms(now) -
                                      static_cast<std::int64_t>(min_interval.count())));
  return r.affected() == 1;
}

bool postgres_store::ping() {
  try {
    auto c = acquire(std::chrono::milliseconds{1000});
    auto r = c->exec("SELECT 1");
    return r.size() == 1 && r.i64(0, 0) == 1;
  } catch (const std::exception&) {
    return false;
  }
}

std::size_t postgres_store::reseal_secrets() {
  const auto& keys = options_.keys;
  if (!keys || !keys->has_keys())
    throw std::runtime_error("store: no key for secrets at rest is configured");
  std::vector<std::int64_t> units;
  {
    auto c = acquire(options_.acquire_timeout);
    auto r = c->exec("SELECT id FROM units WHERE secret <> '' AND secret_key_id <> $1",
                     params().add(keys->current_key_id()));
    for (int i = 0; i < r.size(); ++i) units.push_back(r.i64(i, 0));
  }
  // Each under a row lock, so a concurrent step that wipes or replaces the secret is not undone
  // by writing back what was read before it.
  for (auto id : units) {
    auto c = acquire(options_.acquire_timeout);
    (void)c->exec("BEGIN");
    try {
      auto r = c->exec("SELECT secret, secret_key_id FROM units WHERE id = $1 FOR UPDATE",
                       params().add(id));
      if (r.size() == 1) {
        const sealed_secret held{r.text(0, 1), r.text(0, 0)};
        auto sealed =
            unit_secret_to_store(keys.get(), id, held, open_unit_secret(keys.get(), id, held));
        if (sealed.text != held.text)
          (void)c->exec("UPDATE units SET secret = $1, secret_key_id = $2 WHERE id = $3",
                        params().add(sealed.text).add(sealed.key_id).add(id));
      }
      (void)c->exec("COMMIT");
    } catch (...) {
      if (c->healthy() && c->in_transaction()) PQclear(PQexec(c->native(), "ROLLBACK"));
      throw;
    }
  }
  return units.size();
}

int postgres_store::schema_version() {
  auto c = acquire(options_.acquire_timeout);
  auto r = c->exec("SELECT coalesce(max(version), 0) FROM apono_schema");
  return static_cast<int>(r.i64(0, 0));
}

}  // namespace apono::broker
