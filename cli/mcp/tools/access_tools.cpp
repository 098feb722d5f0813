// The tools that use a grant: get_connection_instructions (how the user connects, without
// the password) and query_database (SQL through the grant's local proxy, inside this
// process), and the read-only test behind query_database's annotations.
#include <boost/json.hpp>

#include "cli/api_client.hpp"
#include "cli/mcp/tool_registry.hpp"
#include "cli/mcp/tools/query_runner.hpp"
#include "cli/output.hpp"
#include "common/time.hpp"

namespace apono::cli::mcp {

namespace json = boost::json;

namespace {

// Only these fields of a unit reach the model: the password, connection string, keys, tokens
// and certificates stay out by construction, not by deletion.
constexpr const char* shown_fields[] = {
    "integration", "type",     "resource",  "permission",   "host",      "port",
    "database",    "username", "sslmode",   "principal",    "region",    "role_arn",
    "identity",    "server",   "namespace", "cluster_role", "expiration"};

json::object connection_instructions(const json::object& args, tool_context& ctx) {
  const std::string id = string_arg(args, "request_id");
  auto d = connect(ctx.g).get("/api/v1/access-sessions/" + url_encode(id) + "/access-details");
  const std::string rid = text(d, "request_id");
  int databases = 0;
  for (const auto& u : d.at("units").as_array()) databases += text(u, "type") == "postgresql";
  json::array units;
  for (const auto& u : d.at("units").as_array()) {
    json::object o;
    for (const char* k : shown_fields)
      if (const auto* v = u.as_object().if_contains(k); v && !v->is_null()) o[k] = *v;
    const std::string type = text(u, "type");
    std::string command, how;
    if (type == "postgresql") {
      const std::string db = databases > 1 ? " --db " + shell_quote(text(u, "database")) : "";
      command = "apono access connect " + rid + db;
      how = "Run `" + command +
            "` for a SQL shell (or add --client psql), or `apono access proxy " + rid + db +
            " --port 0` for a local port GUI tools can use. apono logs in with the "
            "grant's short-lived password, which the user can see with `apono access use " +
            rid + "` in their own terminal; it is not given here.";
    } else if (type == "ssh") {
      command = "apono access connect " + rid + " --host " + shell_quote(text(u, "resource")) +
                " --login " + shell_quote(text(u, "username"));
      how = "Run `" + command + "`: apono makes a key and a certificate for this grant only.";
    } else if (type == "aws") {
      command = "apono access use " + rid + " --aws-profile";
      how = "Run `" + command + "`, then use the AWS CLI with --profile apono.";
    } else if (type == "kubernetes") {
      command = "apono access use " + rid + " --kubeconfig --switch-context";
      how = "Run `" + command + "`, then kubectl uses context apono-" + rid + ".";
    } else {
      command = "apono access use " + rid;
      how = "Run `" + command + "` in the user's own terminal.";
    }
    o["connect_command"] = command;
    o["how_to_connect"] = how;
    units.push_back(std::move(o));
  }
  json::object out{
      {"request_id", rid}, {"ends_at", text(d, "ends_at")}, {"units", std::move(units)}};
  out["time_left_seconds"] = nullptr;
  if (auto t = common::parse_rfc3339(text(d, "ends_at")))
    out["time_left_seconds"] =
        std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(
                                      *t - std::chrono::time_point_cast<std::chrono::milliseconds>(
                                               std::chrono::system_clock::now()))
                                      .count());
  out["note"] =
      "Passwords, keys and tokens are never shown to the AI. For SQL, use query_database.";
  return out;
}

json::object query_database(const json::object& args, tool_context& ctx) {
  const std::string id = string_arg(args, "request_id");
  const std::string sql = string_arg(args, "sql");
  if (sql.find_first_not_of(" \t\r\n;") == std::string::npos)
    throw tool_error("'sql' holds no statement");
  auto access = ctx.sessions.open(ctx.g, id, string_arg(args, "database"));
  query_limits limits;
  limits.row_limit = ctx.settings.row_limit;
  if (auto n = int_arg(args, "max_rows", 0); n > 0)
    limits.row_limit = std::min<std::size_t>(limits.row_limit, static_cast<std::size_t>(n));
  limits.statement_timeout = ctx.settings.statement_timeout;
  const auto& unit = access->unit();
  ctx.log("query_database on " + id + " (" + unit.database + ", " + unit.permission + ")");
  if (ctx.elicit && !is_read_only_permission(unit.permission)) {
    // Reads run as they are; a statement that would write is refused by a read-only
    // transaction before it changes anything, and runs only once the user allows it.
    limits.read_only = true;
    try {
      return run_query(*access, sql, limits, ctx.cancel);
    } catch (const query_error& e) {
      if (e.sqlstate() != "25006") throw;
    }
    auto schema = json::parse(R"json({"type": "object", "properties": {"allow": {
        "type": "boolean", "title": "Run it",
        "description": "The statement runs once, with the grant's permission."}},
        "required": ["allow"]})json")
                      .as_object();
    auto answer = ctx.elicit("The AI wants to change data in " + unit.database + " (" +
                                 unit.permission + ", " + id + "):\n\n" + sql,
                             schema);
    const auto* allow = answer.content.if_contains("allow");
    if (answer.action != "accept" || !allow || !allow->is_bool() || !allow->get_bool())
      throw tool_error("The user did not allow this statement; it was not run. Ask them first.");
    limits.read_only = false;
  }
  return run_query(*access, sql, limits, ctx.cancel);
}

}  // namespace

std::optional<bool> database_grants_read_only(const global_options& g) {
  try {
    auto api = connect(g);
    std::map<std::string, std::string> types;
    const auto integration_list = api.get("/api/v1/integrations");
    for (const auto& i : integration_list.as_array()) types[text(i, "id")] = text(i, "type");
    int seen = 0;
    const auto session_list = api.get("/api/v1/access-sessions");
    for (const auto& s : session_list.as_array()) {
      const auto* units = s.as_object().if_contains("units");
      if (!units || !units->is_array()) continue;
      for (const auto& u : units->as_array()) {
        if (types[text(u, "integration")] != "postgresql") continue;
        ++seen;
        if (!is_read_only_permission(text(u, "permission"))) return false;
      }
    }
    return seen > 0;
  } catch (const std::exception&) {
    return std::nullopt;  // unknown: the annotations stay at "may change data"
  }
}

void add_access_tools(tool_registry& r) {
  r.add(tool{"get_connection_instructions", "How to connect",
             "How the user connects to ACTIVE request `request_id` themselves: per unit the host, "
             "port, database, login name and the `apono` command that opens it. Never the "
             "password, keys or tokens: apono logs in for the user.",
             json::parse(R"json({"type": "object", "properties": {
               "request_id": {"type": "string", "minLength": 1, "description": "e.g. AR-00012"}
             }, "required": ["request_id"], "additionalProperties": false})json")
                 .as_object(),
             json::parse(R"json({"type": "object", "properties": {
               "request_id": {"type": "string"}, "ends_at": {"type": "string"},
               "time_left_seconds": {"type": ["integer", "null"]},
               "units": {"type": "array", "items": {"type": "object", "properties": {
                 "integration": {"type": "string"}, "type": {"type": "string"},
                 "resource": {"type": "string"}, "permission": {"type": "string"},
                 "host": {"type": "string"}, "port": {"type": "integer"},
                 "database": {"type": "string"}, "username": {"type": "string"},
                 "connect_command": {"type": "string"}, "how_to_connect": {"type": "string"}},
                 "required": ["type", "resource", "permission", "connect_command"]}},
               "note": {"type": "string"}
             }, "required": ["request_id", "units"]})json")
                 .as_object(),
             json::object{{"readOnlyHint", true}, {"openWorldHint", false}},
             connection_instructions});

  r.add(tool{"query_database", "Run SQL on a granted database",
             "Runs one SQL statement on the database of ACTIVE request `request_id` (`database` "
             "when the grant covers several) as the grant's short-lived login, through apono's "
             "local proxy: you never see the password, and the statement runs with the grant's "
             "permission only. Returns the columns and up to the row limit of rows (`truncated` "
             "says when there were more: add a LIMIT or a WHERE), with a statement timeout. Once "
             "the grant has ended (expired or revoked) it refuses with the reason. Under a "
             "read-only permission transactions are read-only too; otherwise it can change data, "
             "and when the client supports elicitation a statement that writes runs only after "
             "the user allows it (reads run without asking).",
             json::parse(R"json({"type": "object", "properties": {
               "request_id": {"type": "string", "minLength": 1, "description": "e.g. AR-00012"},
               "sql": {"type": "string", "minLength": 1, "description": "one SQL statement"},
               "database": {"type": "string", "description": "default: the grant's first database"},
               "max_rows": {"type": "integer", "minimum": 1, "maximum": 10000,
                            "description": "return at most this many rows, within the server's limit"}
             }, "required": ["request_id", "sql"], "additionalProperties": false})json")
                 .as_object(),
             json::parse(R"json({"type": "object", "properties": {
               "request_id": {"type": "string"}, "database": {"type": "string"},
               "permission": {"type": "string"}, "command": {"type": "string"},
               "columns": {"type": "array", "items": {"type": "object", "properties": {
                 "name": {"type": "string"}, "type": {"type": "string"}},
                 "required": ["name", "type"]}},
               "rows": {"type": "array", "items": {"type": "array"}},
               "row_count": {"type": "integer"}, "truncated": {"type": "boolean"},
               "row_limit": {"type": "integer"},
               "notices": {"type": "array", "items": {"type": "string"}}
             }, "required": ["request_id", "database", "command", "columns", "rows", "row_count",
                             "truncated"]})json")
                 .as_object(),
             // Listed with the hints of the grants held now (server.cpp); until then: may write.
             json::object{{"readOnlyHint", false},
                          {"destructiveHint", true},
                          {"idempotentHint", false},
                          {"openWorldHint", false}},
             query_database});
}

}  // namespace apono::cli::mcp
