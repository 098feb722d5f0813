// PostgreSQL provisioner over libpq. Every statement that carries a name is built from
// PQescapeIdentifier / PQescapeLiteral results or sent as a parameter; passwords reach the
// server only as SCRAM verifiers, so the statement log never holds a cleartext secret.
#include "broker/provision/postgres_provisioner.hpp"

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

#include "common/secrets.hpp"
#include "common/time.hpp"

namespace apono::broker {
namespace {

// Transaction-scoped advisory lock taken around permission changes in one database.
// Concurrent GRANT/REVOKE on the same object fail with "tuple concurrently updated" instead of
// waiting; serializing our own changes per database avoids that without a global lock.
constexpr std::string_view k_advisory_lock = "SELECT pg_advisory_xact_lock(418380779119)";

// A worker must not hang forever behind someone else's lock (a stuck session, a long
// migration): this turns the wait into an error the scheduler retries.
constexpr std::string_view k_lock_timeout = "-c lock_timeout=10s";

// How long revoke keeps retrying terminate + drop while terminated sessions go away.
constexpr auto k_revoke_patience = std::chrono::seconds{2};

// How long one terminate waits for the signalled backends to exit.
constexpr auto k_terminate_wait = std::chrono::milliseconds{1500};

// Idle connections kept per connection string; enough for the default worker count.
constexpr std::size_t k_max_idle = 8;

// PostgreSQL truncates longer names with only a NOTICE, which would make later lookups by
// the full name miss the role.
constexpr std::size_t k_max_identifier = 63;

/// A statement that failed; the SQLSTATE lets callers handle the races they expect.
class statement_error : public provision_error {
 public:
  statement_error(const std::string& what, std::string sqlstate)
      : provision_error(what), sqlstate_(std::move(sqlstate)) {}
  [[nodiscard]] const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

std::string first_line(std::string_view s) {
  auto end = s.find('\n');
  if (end != std::string_view::npos) s = s.substr(0, end);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.remove_suffix(1);
  return std::string{s};
}

/// Removes `secrets` from a server message, in case a future error ever echoes a literal.
std::string redact(std::string msg, const std::vector<std::string>& secrets) {
  for (const auto& s : secrets) {
    if (s.empty()) continue;
    for (auto pos = msg.find(s); pos != std::string::npos; pos = msg.find(s, pos))
      msg.replace(pos, s.size(), "[redacted]");
  }
  return msg;
}

/// libpq keyword/value arrays for one target database, and the pool key that names them.
struct conn_params {
  std::vector<std::string> keywords;
  std::vector<std::string> values;
  std::string key;
};

/// Parses `admin_url` (URI or key=value) and points it at `dbname` when given.
conn_params make_params(const std::string& admin_url, const std::string* dbname,
                        const std::string& ctx) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(admin_url.c_str(), &err);
  if (opts == nullptr) {
    // The parser's message can quote the offending part of the string, which may be the
    // password.
    if (err != nullptr) PQfreemem(err);
    throw provision_error(ctx + ": admin_url is not a valid libpq connection string");
  }
  conn_params p;
  bool has_timeout = false, has_options = false;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    std::string k = o->keyword, v = o->val;
    if (k == "dbname" && dbname != nullptr) continue;
    if (k == "connect_timeout") has_timeout = true;
    if (k == "options") {
      has_options = true;
      v += " ";
      v += k_lock_timeout;
    }
    p.keywords.push_back(std::move(k));
    p.values.push_back(std::move(v));
  }
  PQconninfoFree(opts);
  if (dbname != nullptr) {
    p.keywords.emplace_back("dbname");
    p.values.push_back(*dbname);
  }
  if (!has_timeout) {
    p.keywords.emplace_back("connect_timeout");
    p.values.emplace_back("5");
  }
  if (!has_options) {
    p.keywords.emplace_back("options");
    p.values.emplace_back(k_lock_timeout);
  }
  for (std::size_t i = 0; i < p.keywords.size(); ++i) {
    // NUL cannot occur inside a libpq value, so it separates unambiguously.
    p.key += p.keywords[i];
    p.key += '\0';
    p.key += p.values[i];
    p.key += '\0';
  }
  return p;
}

/// Idle connections by connection string. Connections are used by one thread at a time.
struct connection_pool {
  std::mutex mu;
  std::map<std::string, std::vector<PGconn*>> idle;

  connection_pool() = default;
  connection_pool(const connection_pool&) = delete;
  connection_pool& operator=(const connection_pool&) = delete;
  ~connection_pool() {
    for (auto& [key, conns] : idle)
      for (PGconn* c : conns) PQfinish(c);
  }
};

/// One checked-out connection; returned to the pool when healthy and idle, else closed.
class lease {
 public:
  lease(connection_pool& pool, const conn_params& params, const std::string& ctx)
      : pool_(pool), key_(params.key) {
    {
      std::lock_guard lock{pool_.mu};
      auto it = pool_.idle.find(key_);
      if (it != pool_.idle.end() && !it->second.empty()) {
        conn_ = it->second.back();
        it->second.pop_back();
        reused_ = true;
        return;
      }
    }
    std::vector<const char*> k, v;
    for (std::size_t i = 0; i < params.keywords.size(); ++i) {
      k.push_back(params.keywords[i].c_str());
      v.push_back(params.values[i].c_str());
    }
    k.push_back(nullptr);
    v.push_back(nullptr);
    conn_ = PQconnectdbParams(k.data(), v.data(), 0);
    if (conn_ == nullptr) throw provision_error(ctx + ": connect failed: out of memory");
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string msg = first_line(PQerrorMessage(conn_));
      PQfinish(conn_);
      conn_ = nullptr;
      throw provision_error(ctx + ": connect failed: " + msg);
    }
    // Notices go to the debug log, not to stderr: terminating a grant's sessions draws one
    // WARNING for every session that ended on its own meanwhile, a thousand at a time.
    PQsetNoticeProcessor(
        conn_, [](void*, const char* m) { spdlog::debug("postgres target: {}", first_line(m)); },
        nullptr);
  }

  ~lease() {
    if (conn_ == nullptr) return;
    if (PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE) {
      std::lock_guard lock{pool_.mu};
      auto& conns = pool_.idle[key_];
      if (conns.size() < k_max_idle) {
        conns.push_back(conn_);
        return;
      }
    }
    PQfinish(conn_);
  }

  lease(const lease&) = delete;
  lease& operator=(const lease&) = delete;

  [[nodiscard]] PGconn* get() const { return conn_; }
  /// True when it came from the pool, so a failure may just mean the server closed it.
  [[nodiscard]] bool reused() const { return reused_; }

 private:
  connection_pool& pool_;
  std::string key_;
  PGconn* conn_ = nullptr;
  bool reused_ = false;
};

/// Runs `body(conn)`; if a pooled connection turns out to be dead (server restarted, idle
/// timeout), runs it once more on a fresh one. Bodies are idempotent.
template <class F>
void with_connection(connection_pool& pool, const conn_params& params, const std::string& ctx,
                     F&& body) {
  for (int attempt = 0;; ++attempt) {
    lease conn{pool, params, ctx};
    try {
      body(conn.get());
      return;
    } catch (const provision_error&) {
      if (attempt == 0 && conn.reused() && PQstatus(conn.get()) != CONNECTION_OK) continue;
      throw;
    }
  }
}

using result_ptr = std::unique_ptr<PGresult, decltype(&PQclear)>;

/// Runs `sql` (with text parameters, if any); throws statement_error naming `what` on failure.
result_ptr exec(PGconn* c, const std::string& ctx, const std::string& what, std::string_view sql,
                const std::vector<std::string>& params = {},
                const std::vector<std::string>& secrets = {}) {
  std::string text{sql};
  PGresult* raw = nullptr;
  if (params.empty()) {
    raw = PQexec(c, text.c_str());
  } else {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    raw = PQexecParams(c, text.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                       nullptr, nullptr, 0);
  }
  result_ptr r{raw, PQclear};
  auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return r;
  std::string msg = r ? PQresultErrorMessage(r.get()) : "";
  if (msg.empty()) msg = PQerrorMessage(c);
  const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
  throw statement_error(ctx + ": " + what + " failed: " + redact(first_line(msg), secrets),
                        state != nullptr ? state : "");
}

/// Runs `body` between BEGIN and COMMIT, rolling back if it throws.
template <class F>
void in_transaction(PGconn* c, const std::string& ctx, F&& body) {
  exec(c, ctx, "BEGIN", "BEGIN");
  try {
    body();
    exec(c, ctx, "COMMIT", "COMMIT");
  } catch (...) {
    // Best effort: if this fails too the connection is not idle and the lease discards it.
    PQclear(PQexec(c, "ROLLBACK"));
    throw;
  }
}

std::string quote_ident(PGconn* c, const std::string& name, const std::string& ctx) {
  char* q = PQescapeIdentifier(c, name.c_str(), name.size());
  if (q == nullptr)
    throw provision_error(ctx + ": cannot quote identifier: " + first_line(PQerrorMessage(c)));
  std::string out{q};
  PQfreemem(q);
  return out;
}

/// Quotes a literal; errors never echo the value, which may be a verifier.
std::string quote_literal(PGconn* c, const std::string& value, const std::string& ctx) {
  char* q = PQescapeLiteral(c, value.c_str(), value.size());
  if (q == nullptr) throw provision_error(ctx + ": cannot quote a literal");
  std::string out{q};
  PQfreemem(q);
  return out;
}

/// The SCRAM-SHA-256 verifier for `secret`, computed client-side. Ours for the broker's own
/// passwords (printable ASCII): libpq's fetches the digest afresh for each of the 4,096 HMACs
/// and took a third of aponod's CPU when hundreds of grants were made at once.
std::string scram_verifier(PGconn* c, const std::string& secret, const std::string& login,
                           const std::string& ctx) {
  if (std::all_of(secret.begin(), secret.end(),
                  [](unsigned char ch) { return ch >= 0x20 && ch <= 0x7e; }))
    return common::scram_sha256_verifier(secret);
  char* v = PQencryptPasswordConn(c, secret.c_str(), login.c_str(), "scram-sha-256");
  if (v == nullptr) throw provision_error(ctx + ": cannot compute the password verifier");
  std::string out{v};
  PQfreemem(v);
  return out;
}

/// `until` as a timestamptz literal; an unset time means no expiry at the target.
std::string valid_until_literal(PGconn* c, common::time_point until, const std::string& ctx) {
  if (until == common::time_point{}) return "'infinity'";
  return quote_literal(c, common::format_rfc3339(until), ctx);
}

/// What we need to know about an existing role.
struct role_info {
  std::string oid;
  bool managed = false;  ///< created by the broker and not a superuser
};

std::optional<role_info> find_role(PGconn* c, const std::string& login, const std::string& ctx) {
  auto r = exec(c, ctx, "role lookup",
                "SELECT r.oid, r.rolsuper, coalesce(shobj_description(r.oid, 'pg_authid'), '') "
                "FROM pg_roles r WHERE r.rolname = $1",
                {login});
  if (PQntuples(r.get()) == 0) return std::nullopt;
  role_info info;
  info.oid = PQgetvalue(r.get(), 0, 0);
  std::string_view super = PQgetvalue(r.get(), 0, 1);
  std::string_view comment = PQgetvalue(r.get(), 0, 2);
  info.managed = super == "f" && comment.starts_with("apono ");
  return info;
}

/// Refuses to touch roles the broker did not create: a bad login must never let grant change
/// the password of, or revoke drop everything owned by, an administrator.
void require_managed(const role_info& info, const std::string& login, const std::string& ctx) {
  if (!info.managed)
    throw provision_error(ctx + ": role " + login + " exists and was not created by apono");
}

/// Replaces `{role}` and `{database}` in one left-to-right pass, so text substituted in is
/// never scanned again (a role name may itself contain `{database}`).
std::string expand_template(std::string_view tmpl, const std::string& role,
                            const std::string& database) {
  std::string out;
  while (!tmpl.empty()) {
    if (tmpl.starts_with("{role}")) {
      out += role;
      tmpl.remove_prefix(6);
    } else if (tmpl.starts_with("{database}")) {
      out += database;
      tmpl.remove_prefix(10);
    } else {
      out += tmpl.front();
      tmpl.remove_prefix(1);
    }
  }
  return out;
}

/// Errors worth retrying at once: concurrent catalog updates and deadlocks.
bool is_transient(const statement_error& e) {
  return e.sqlstate() == "XX000" || e.sqlstate() == "40001" || e.sqlstate() == "40P01";
}

const permission_config* find_permission(const integration_config& in, const std::string& name) {
  for (const auto& p : in.permissions)
    if (p.name == name) return &p;
  return nullptr;
}

std::string unit_context(const provision_unit& u) {
  return u.integration->id + "/" + u.resource;
}

void check_login(const provision_unit& u, const std::string& ctx) {
  if (u.login.empty() || u.login.size() > k_max_identifier)
    throw provision_error(ctx + ": login must be 1 to 63 bytes");
}

/// Ends every session of the role, waiting for each backend to exit where the server can.
void terminate_sessions(PGconn* c, const std::string& oid, const std::string& ctx) {
  // Matching by oid rather than name also catches sessions that outlive a DROP ROLE. Every
  // backend is signalled at once and then all are waited for together: waiting for each in
  // turn (pg_terminate_backend(pid, timeout)) took 11.9 s for a grant with 1,000 sessions.
  exec(c, ctx, "pg_terminate_backend",
       "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usesysid = $1", {oid});
  const auto deadline = std::chrono::steady_clock::now() + k_terminate_wait;
  for (;;) {
    auto left = exec(c, ctx, "session count",
                     "SELECT count(*) FROM pg_stat_activity WHERE usesysid = $1", {oid});
    if (std::string_view(PQgetvalue(left.get(), 0, 0)) == "0") return;
    // What is still there when the wait ends is found by the caller's next pass.
    if (std::chrono::steady_clock::now() >= deadline) return;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

}  // namespace

struct postgres_provisioner::pool : connection_pool {};

postgres_provisioner::postgres_provisioner() : pool_(std::make_unique<pool>()) {}

postgres_provisioner::~postgres_provisioner() = default;

void postgres_provisioner::grant(const provision_unit& u) {
  const auto ctx = unit_context(u);
  check_login(u, ctx);
  if (u.secret.empty()) throw provision_error(ctx + ": empty secret");
  const permission_config* perm = find_permission(*u.integration, u.permission);
  if (perm == nullptr) throw provision_error(ctx + ": unknown permission " + u.permission);

  with_connection(*pool_, make_params(u.integration->admin_url, nullptr, ctx), ctx, [&](PGconn* c) {
    const auto verifier = scram_verifier(c, u.secret, u.login, ctx);
    const std::vector<std::string> secrets{u.secret, verifier};
    const auto role = quote_ident(c, u.login, ctx);
    const auto password = quote_literal(c, verifier, ctx);
    const auto until = valid_until_literal(c, u.valid_until, ctx);
    const auto comment = quote_literal(c, "apono " + u.request_id, ctx);
    for (int attempt = 0;; ++attempt) {
      auto existing = find_role(c, u.login, ctx);
      if (existing) require_managed(*existing, u.login, ctx);
      try {
        // One transaction, so a role never exists without the comment that marks it ours.
        in_transaction(c, ctx, [&] {
          if (existing) {
            exec(c, ctx, "ALTER ROLE",
                 "ALTER ROLE " + role + " LOGIN NOINHERIT PASSWORD " + password + " VALID UNTIL " +
                     until,
                 {}, secrets);
          } else {
            exec(c, ctx, "CREATE ROLE",
                 "CREATE ROLE " + role + " LOGIN NOINHERIT PASSWORD " + password + " VALID UNTIL " +
                     until,
                 {}, secrets);
          }
          exec(c, ctx, "COMMENT ON ROLE", "COMMENT ON ROLE " + role + " IS " + comment);
        });
        return;
      } catch (const statement_error& e) {
        // 42710: an overlapping retry created it between our lookup and CREATE.
        if (attempt == 0 && !existing && e.sqlstate() == "42710") continue;
        throw;
      }
    }
  });

  with_connection(
      *pool_, make_params(u.integration->admin_url, &u.resource, ctx), ctx, [&](PGconn* c) {
        const auto role = quote_ident(c, u.login, ctx);
        const auto database = quote_ident(c, u.resource, ctx);
        for (int attempt = 0;; ++attempt) {
          try {
            in_transaction(c, ctx, [&] {
              exec(c, ctx, "advisory lock", k_advisory_lock);
              for (std::size_t i = 0; i < perm->grants.size(); ++i)
                exec(c, ctx, "permission " + perm->name + " statement " + std::to_string(i + 1),
                     expand_template(perm->grants[i], role, database));
            });
            return;
          } catch (const statement_error& e) {
            if (attempt < 3 && is_transient(e)) continue;
            throw;
          }
        }
      });
}

void postgres_provisioner::revoke(const provision_unit& u) {
  const auto ctx = unit_context(u);
  check_login(u, ctx);
  const auto admin = make_params(u.integration->admin_url, nullptr, ctx);
  with_connection(*pool_, admin, ctx, [&](PGconn* c) {
    auto existing = find_role(c, u.login, ctx);
    if (!existing) return;
    require_managed(*existing, u.login, ctx);
    const auto role = quote_ident(c, u.login, ctx);
    // First, so that no new session can start between terminating and dropping.
    exec(c, ctx, "ALTER ROLE NOLOGIN", "ALTER ROLE " + role + " NOLOGIN");

    const auto deadline = std::chrono::steady_clock::now() + k_revoke_patience;
    for (;;) {
      try {
        terminate_sessions(c, existing->oid, ctx);
        // The resource database, plus any other database where the role still owns objects
        // or holds privileges (a template may reach beyond its database). The admin
        // database is handled last, with the DROP ROLE itself.
        auto dbs = exec(c, ctx, "database lookup",
                        "SELECT datname FROM pg_database WHERE datallowconn "
                        "AND datname <> current_database() AND (datname = $1 OR oid IN "
                        "(SELECT dbid FROM pg_shdepend WHERE refclassid = 'pg_authid'::regclass "
                        "AND refobjid = $2::oid))",
                        {u.resource, existing->oid});
        for (int i = 0; i < PQntuples(dbs.get()); ++i) {
          const std::string db = PQgetvalue(dbs.get(), i, 0);
          const auto db_ctx = u.integration->id + "/" + db;
          with_connection(*pool_, make_params(u.integration->admin_url, &db, db_ctx), db_ctx,
                          [&](PGconn* dc) {
                            in_transaction(dc, db_ctx, [&] {
                              exec(dc, db_ctx, "advisory lock", k_advisory_lock);
                              exec(dc, db_ctx, "REASSIGN OWNED",
                                   "REASSIGN OWNED BY " + role + " TO CURRENT_USER");
                              exec(dc, db_ctx, "DROP OWNED", "DROP OWNED BY " + role);
                            });
                          });
        }
        in_transaction(c, ctx, [&] {
          exec(c, ctx, "advisory lock", k_advisory_lock);
          exec(c, ctx, "DROP OWNED", "DROP OWNED BY " + role);
          exec(c, ctx, "DROP ROLE", "DROP ROLE " + role);
        });
        // Sessions that authenticated just before NOLOGIN would otherwise outlive the role.
        terminate_sessions(c, existing->oid, ctx);
        return;
      } catch (const provision_error&) {
        if (PQstatus(c) != CONNECTION_OK) throw;
        if (!find_role(c, u.login, ctx)) return;  // a concurrent revoke finished it
        if (std::chrono::steady_clock::now() >= deadline) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds{100});
      }
    }
  });
}

void postgres_provisioner::reset(const provision_unit& u) {
  const auto ctx = unit_context(u);
  check_login(u, ctx);
  if (u.secret.empty()) throw provision_error(ctx + ": empty secret");
  with_connection(*pool_, make_params(u.integration->admin_url, nullptr, ctx), ctx, [&](PGconn* c) {
    auto existing = find_role(c, u.login, ctx);
    if (!existing) throw provision_error(ctx + ": role " + u.login + " does not exist");
    require_managed(*existing, u.login, ctx);
    const auto verifier = scram_verifier(c, u.secret, u.login, ctx);
    exec(c, ctx, "ALTER ROLE",
         "ALTER ROLE " + quote_ident(c, u.login, ctx) + " PASSWORD " +
             quote_literal(c, verifier, ctx),
         {}, {u.secret, verifier});
  });
}

void postgres_provisioner::check(const integration_config& integration) {
  const auto& ctx = integration.id;
  with_connection(*pool_, make_params(integration.admin_url, nullptr, ctx), ctx,
                  [&](PGconn* c) { exec(c, ctx, "SELECT 1", "SELECT 1"); });
}

}  // namespace apono::broker
