// One statement through the grant's local proxy with libpq. The connection goes to the
// proxy's unix socket, which logs in upstream with the grant's password: this code never
// holds it. Every wait watches the grant and the client's cancellation (shell::waiter).
#include "cli/mcp/tools/query_runner.hpp"

#include <libpq-fe.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "launchers/shell/connection.hpp"
#include "launchers/shell/waiter.hpp"

namespace apono::cli::mcp {

namespace json = boost::json;
namespace shell = launchers::shell;

bool is_read_only_permission(std::string_view name) {
  std::string n;
  for (char c : name) n += c == '-' || c == ' ' ? '_' : static_cast<char>(std::tolower(c));
  return n == "read_only" || n == "readonly" || n == "ro" || n == "read";
}

std::shared_ptr<local_access> grant_sessions::open(const global_options& g, const std::string& id,
                                                   const std::string& database) {
  std::lock_guard lock(mutex_);
  for (const auto& [key, a] : open_)
    if (key.starts_with(id + "\n") && a->watch().ended()) throw tool_error(a->watch().message());
  const auto key = id + "\n" + database;
  if (auto it = open_.find(key); it != open_.end()) return it->second;
  local_access_options o;
  o.id = id;
  o.database = database;
  auto a = std::make_shared<local_access>(g, o);
  open_[key] = a;
  return a;
}

std::optional<std::string> grant_sessions::ended(const std::string& id) {
  std::lock_guard lock(mutex_);
  for (const auto& [key, a] : open_)
    if (key.starts_with(id + "\n") && a->watch().ended()) return a->watch().message();
  return std::nullopt;
}

void grant_sessions::end(const std::string& id) {
  std::lock_guard lock(mutex_);
  for (const auto& [key, a] : open_)
    if (key.starts_with(id + "\n")) a->watch().end(proxy::end_cause::revoked);
}

void grant_sessions::clear() {
  std::map<std::string, std::shared_ptr<local_access>> all;
  {
    std::lock_guard lock(mutex_);
    all.swap(open_);
  }
}

namespace {

// Numbers and booleans as JSON values; everything else as PostgreSQL's text.
json::value cell(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return nullptr;
  const char* v = PQgetvalue(r, row, col);
  switch (PQftype(r, col)) {
    case 16:  // bool
      return std::string_view(v) == "t";
    case 20:  // int8
    case 21:  // int2
    case 23:  // int4
      return std::strtoll(v, nullptr, 10);
    case 700:  // float4
    case 701:  // float8
      if (double d = std::strtod(v, nullptr); std::isfinite(d)) return d;
      break;
    default:
      break;
  }
  return v;
}

void collect_notice(void* arg, const PGresult* r) {
  auto* notices = static_cast<json::array*>(arg);
  std::string m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
                      ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
                      : "";
  if (notices->size() < 20) notices->emplace_back(m);
}

// The types a model meets most, by their built-in oids; others by their oid.
const std::map<Oid, std::string>& builtin_types() {
  static const std::map<Oid, std::string> m{{16, "boolean"},     {17, "bytea"},
                                            {18, "char"},        {19, "name"},
                                            {20, "bigint"},      {21, "smallint"},
                                            {23, "integer"},     {25, "text"},
                                            {26, "oid"},         {114, "json"},
                                            {700, "real"},       {701, "double precision"},
                                            {1042, "character"}, {1043, "character varying"},
                                            {1082, "date"},      {1083, "time"},
                                            {1114, "timestamp"}, {1184, "timestamptz"},
                                            {1186, "interval"},  {1700, "numeric"},
                                            {2950, "uuid"},      {3802, "jsonb"}};
  return m;
}

std::string type_name(Oid oid) {
  const auto& m = builtin_types();
  auto it = m.find(oid);
  return it != m.end() ? it->second : "oid " + std::to_string(oid);
}

}  // namespace

json::object run_query(local_access& access, const std::string& sql, const query_limits& limits,
                       const cancel_token& cancel) {
  auto& watch = access.watch();
  if (watch.ended()) throw tool_error(watch.message());
  const auto& unit = access.unit();
  const bool read_only = limits.read_only || is_read_only_permission(unit.permission);
  std::string options = "-c statement_timeout=" + std::to_string(limits.statement_timeout.count());
  if (read_only) options += " -c default_transaction_read_only=on";
  const std::string conninfo = "host=" + conninfo_value(access.socket_dir().string()) +
                               " port=5432 dbname=" + conninfo_value(unit.database) +
                               " user=" + conninfo_value(unit.username) +
                               " application_name='apono mcp' options=" + conninfo_value(options);
  json::array notices;  // outlives the connection that fills it
  shell::waiter wait(&watch, cancel.fd());
  shell::connection conn(wait);
  switch (conn.connect(conninfo, nullptr)) {
    case shell::outcome::ok:
      break;
    case shell::outcome::access_ended:
      throw tool_error(watch.message());
    case shell::outcome::failed:
    case shell::outcome::lost:
      if (watch.ended()) throw tool_error(watch.message());
      throw tool_error("could not connect through the local proxy: " + conn.error());
  }
  PQsetNoticeReceiver(conn.get(), collect_notice, &notices);

  // The extended protocol takes one statement only: the server refuses a second one.
  if (PQsendQueryParams(conn.get(), sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) != 1)
    throw tool_error(std::string("could not send the statement: ") + PQerrorMessage(conn.get()));
  (void)PQsetSingleRowMode(conn.get());

  json::array columns;
  json::array rows;
  std::string command;
  std::string error;
  std::string sqlstate;
  bool truncated = false;
  bool cancelled_for_limit = false;
  for (;;) {
    shell::pg_result r;
    switch (conn.next_result(r)) {
      case shell::outcome::ok:
        break;
      case shell::outcome::access_ended:
        throw tool_error(watch.message());
      case shell::outcome::lost:
      case shell::outcome::failed:
        if (wait.access_ended(std::chrono::milliseconds{500})) throw tool_error(watch.message());
        throw tool_error("the connection to the database was lost: " + conn.lost_message());
    }
    if (!r) break;
    const auto st = PQresultStatus(r.get());
    if (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) {
      if (columns.empty() && PQnfields(r.get()) > 0)
        for (int c = 0; c < PQnfields(r.get()); ++c)
          columns.push_back(json::object{{"name", PQfname(r.get(), c)},
                                         {"type", type_name(PQftype(r.get(), c))}});
      for (int row = 0; row < PQntuples(r.get()); ++row) {
        if (rows.size() >= limits.row_limit) {
          truncated = true;
          break;
        }
        json::array values;
        for (int c = 0; c < PQnfields(r.get()); ++c) values.push_back(cell(r.get(), row, c));
        rows.push_back(std::move(values));
      }
      if (st == PGRES_TUPLES_OK) command = PQcmdStatus(r.get());
      if (truncated && !cancelled_for_limit) {
        // Enough rows: stop the server from producing the rest.
        cancelled_for_limit = true;
        if (PGcancel* pc = PQgetCancel(conn.get())) {
          char buf[256];
          (void)PQcancel(pc, buf, sizeof buf);
          PQfreeCancel(pc);
        }
      }
    } else if (st == PGRES_COMMAND_OK) {
      command = PQcmdStatus(r.get());
    } else if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR) {
      // The cancel sent for the row limit ends the statement with an error that is ours.
      if (!cancelled_for_limit) {
        const char* m = PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY);
        const char* sev = PQresultErrorField(r.get(), PG_DIAG_SEVERITY_NONLOCALIZED);
        if (const char* code = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE)) sqlstate = code;
        error = std::string(sev ? sev : "ERROR") + ":  " + (m ? m : PQresultErrorMessage(r.get()));
        if (const char* d = PQresultErrorField(r.get(), PG_DIAG_MESSAGE_DETAIL))
          error += " (" + std::string(d) + ")";
        if (const char* h = PQresultErrorField(r.get(), PG_DIAG_MESSAGE_HINT))
          error += " HINT: " + std::string(h);
      }
    } else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
      error = "COPY is not supported here: select the rows instead";
      break;
    }
  }
  if (cancel.cancelled()) throw tool_error("cancelled by the client");
  if (watch.ended()) throw tool_error(watch.message());
  if (!error.empty()) {
    if (error.find("canceling statement due to statement timeout") != std::string::npos)
      error += " (the statement ran longer than " +
               std::to_string(limits.statement_timeout.count() / 1000) + " s)";
    throw query_error(error, sqlstate);
  }
  if (cancelled_for_limit) command = "SELECT (first " + std::to_string(rows.size()) + " rows)";
  json::object out{{"request_id", watch.request_id()}, {"database", unit.database},
                   {"permission", unit.permission},    {"command", command},
                   {"columns", std::move(columns)},    {"row_count", rows.size()},
                   {"rows", std::move(rows)},          {"truncated", truncated},
                   {"row_limit", limits.row_limit},    {"notices", std::move(notices)}};
  return out;
}

}  // namespace apono::cli::mcp
