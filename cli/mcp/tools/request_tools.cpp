// The tools about access requests: request_access, list_requests, get_request,
// wait_for_access and revoke_access. They speak the broker's API with the user's profile,
// as `apono request` and `apono requests` do.
#include <boost/json.hpp>

#include <chrono>
#include <set>

#include "cli/api_client.hpp"
#include "cli/mcp/tool_registry.hpp"
#include "cli/mcp/tools/query_runner.hpp"
#include "cli/output.hpp"
#include "cli/request_flow.hpp"
#include "common/duration.hpp"
#include "common/time.hpp"

namespace apono::cli::mcp {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

json::object parse_object(std::string_view s) {
  return json::parse(s).as_object();
}

// What the model learns about a request; never credentials (a request holds none).
constexpr std::string_view summary_properties = R"json({
  "request_id": {"type": "string", "description": "e.g. AR-00012"},
  "status": {"type": "string", "enum": ["PENDING", "GRANTING", "ACTIVE", "REVOKING", "EXPIRED",
             "REVOKED", "REJECTED", "FAILED"]},
  "integration": {"type": ["string", "null"]},
  "resource_type": {"type": ["string", "null"]},
  "bundle": {"type": ["string", "null"]},
  "resources": {"type": "array", "items": {"type": "string"}},
  "permissions": {"type": "array", "items": {"type": "string"}},
  "justification": {"type": ["string", "null"]},
  "access_flow": {"type": ["string", "null"]},
  "approval": {"type": ["string", "null"], "description": "automatic or manual"},
  "approvers": {"type": "array", "items": {"type": "string"},
                "description": "who may approve it (empty for an automatic flow)"},
  "decided_by": {"type": ["string", "null"]},
  "reason": {"type": ["string", "null"], "description": "the approver's reason when rejected"},
  "duration": {"type": ["string", "null"], "description": "e.g. 1h30m"},
  "created_at": {"type": ["string", "null"]},
  "active_from": {"type": ["string", "null"]},
  "ends_at": {"type": ["string", "null"]},
  "time_left_seconds": {"type": ["integer", "null"],
                        "description": "while ACTIVE: seconds until access ends"},
  "end_reason": {"type": ["string", "null"], "description": "expired, revoked or failed"},
  "units": {"type": "array", "items": {"type": "object", "properties": {
    "resource": {"type": "string"}, "permission": {"type": "string"},
    "status": {"type": "string"}, "last_error": {"type": ["string", "null"]}}}}
})json";

const std::set<std::string> ended_statuses{"EXPIRED", "REVOKED", "REJECTED", "FAILED"};

json::value field(const json::value& r, std::string_view key) {
  if (!r.is_object()) return nullptr;
  const auto* v = r.as_object().if_contains(key);
  return v ? *v : json::value(nullptr);
}

json::array string_array(const json::value& v) {
  json::array out;
  if (v.is_array())
    for (const auto& x : v.as_array())
      if (x.is_string()) out.push_back(x);
  return out;
}

json::object summarize(const json::value& r) {
  json::object s;
  s["request_id"] = text(r, "id");
  s["status"] = text(r, "status");
  for (const char* k :
       {"integration", "resource_type", "bundle", "justification", "access_flow", "approval",
        "decided_by", "reason", "created_at", "active_from", "ends_at", "end_reason"}) {
    auto v = field(r, k);
    s[k] = v.is_string() ? v : json::value(nullptr);
  }
  s["resources"] = string_array(field(r, "resources"));
  s["permissions"] = string_array(field(r, "permissions"));
  s["approvers"] = string_array(field(r, "approvers"));
  s["duration"] = nullptr;
  if (auto d = field(r, "duration_seconds"); d.is_int64() && d.get_int64() > 0)
    s["duration"] = common::format_duration(std::chrono::seconds{d.get_int64()});
  s["time_left_seconds"] = nullptr;
  if (text(r, "status") == "ACTIVE")
    if (auto t = common::parse_rfc3339(text(r, "ends_at"))) {
      auto left = std::chrono::duration_cast<std::chrono::seconds>(
          *t - std::chrono::time_point_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now()));
      s["time_left_seconds"] = std::max<std::int64_t>(0, left.count());
    }
  json::array units;
  if (auto u = field(r, "units"); u.is_array())
    for (const auto& x : u.as_array()) {
      auto err = field(x, "last_error");
      units.push_back(json::object{{"resource", text(x, "resource")},
                                   {"permission", text(x, "permission")},
                                   {"status", text(x, "status")},
                                   {"last_error", err.is_string() ? err : json::value(nullptr)}});
    }
  s["units"] = std::move(units);
  return s;
}

// What the model should do next, in one sentence, for a request in its current status.
std::string next_step(const json::object& s) {
  const std::string status(s.at("status").as_string());
  const std::string id(s.at("request_id").as_string());
  if (status == "ACTIVE")
    return "Access is active until " + text(s, "ends_at") +
           ": use query_database for SQL on a database, or get_connection_instructions to tell "
           "the user how to connect; revoke_access when done.";
  if (status == "PENDING") {
    std::string who = join(s.at("approvers"));
    return "Waiting for a person to approve" + (who.empty() ? std::string() : " (" + who + ")") +
           ": call wait_for_access again, or tell the user who can approve " + id + ".";
  }
  if (status == "GRANTING") return "The broker is granting access: call wait_for_access again.";
  if (status == "REJECTED")
    return "Rejected" + (text(s, "reason").empty() ? std::string() : ": " + text(s, "reason")) +
           ". Do not request it again without asking the user.";
  if (status == "FAILED") return "The grant failed at the target; tell the user.";
  return "Access has ended (" + (text(s, "end_reason").empty() ? status : text(s, "end_reason")) +
         "); request it again only if the user wants to.";
}

json::object summary_schema(std::string_view extra_properties = "{}",
                            std::string_view required = R"json(["request_id","status"])json") {
  auto props = parse_object(summary_properties);
  for (auto& [k, v] : parse_object(extra_properties)) props[k] = v;
  return {
      {"type", "object"}, {"properties", std::move(props)}, {"required", json::parse(required)}};
}

json::object annotations(bool read_only, bool destructive, bool idempotent, bool open_world) {
  json::object a{{"readOnlyHint", read_only}, {"openWorldHint", open_world}};
  if (!read_only) {
    a["destructiveHint"] = destructive;
    a["idempotentHint"] = idempotent;
  }
  return a;
}

json::value get_request(api_client& api, const std::string& id) {
  return api.get("/api/v1/access-requests/" + url_encode(id));
}

constexpr std::string_view request_id_property =
    R"json({"type": "string", "minLength": 1, "description": "the request id, e.g. AR-00012"})json";

// --- request_access ----------------------------------------------------------------------

std::string describe_plan(const json::value& preview, const request_spec& spec) {
  std::string what;
  if (!spec.bundle.empty()) {
    what = "bundle " + spec.bundle;
  } else {
    what = join(preview.at("permissions")) + " on " + join(preview.at("resources")) + " (" +
           text(preview, "integration") + ")";
  }
  std::string how_long = "the flow's default duration";
  if (auto d = field(preview, "duration_seconds"); d.is_int64() && d.get_int64() > 0)
    how_long = common::format_duration(std::chrono::seconds{d.get_int64()});
  std::string flow = text(preview, "access_flow");
  std::string approval = text(preview, "approval") == "automatic"
                             ? "approved automatically"
                             : "needs approval by " + (join(preview.at("approvers")).empty()
                                                           ? std::string("an approver")
                                                           : join(preview.at("approvers")));
  return "Request " + what + " for " + how_long + "? Justification: \"" + spec.justification +
         "\". Access flow " + (flow.empty() ? std::string("(none)") : flow) + ": " + approval + ".";
}

json::object request_access(const json::object& args, tool_context& ctx) {
  request_spec spec;
  spec.integration = string_arg(args, "integration");
  spec.resource_type = string_arg(args, "resource_type");
  spec.resources = strings_arg(args, "resources");
  spec.permissions = strings_arg(args, "permissions");
  spec.bundle = string_arg(args, "bundle");
  spec.justification = string_arg(args, "justification");
  spec.duration = string_arg(args, "duration");
  if (!spec.bundle.empty()) {
    if (!spec.integration.empty() || !spec.resource_type.empty() || !spec.resources.empty() ||
        !spec.permissions.empty())
      throw tool_error("give either bundle, or integration, resources and permissions, not both");
  } else {
    if (spec.integration.empty())
      throw tool_error("missing 'integration' (or give 'bundle'): see list_catalog");
    if (spec.resources.empty()) throw tool_error("missing 'resources': name at least one");
    if (spec.permissions.empty()) throw tool_error("missing 'permissions': name at least one");
  }
  if (spec.justification.find_first_not_of(" \t\n") == std::string::npos)
    throw tool_error("'justification' must say why the access is needed");
  if (!spec.duration.empty() && !common::parse_duration(spec.duration))
    throw tool_error("invalid duration '" + spec.duration +
                     "': use hours (0.75) or 90s, 45m, 1h30m, or leave it out for the default");

  auto api = connect(ctx.g);
  json::object body = request_body(api, spec);
  body["dry_run"] = true;
  // The dry run stores nothing: a mistake costs the model one correction, not a request.
  auto checked = api.post("/api/v1/access-requests", body);
  const json::value preview = field(checked, "request");
  const std::string plan = describe_plan(preview, spec);

  if (ctx.elicit) {
    auto schema = parse_object(R"json({"type": "object", "properties": {"confirm": {
        "type": "boolean", "title": "Make this request",
        "description": "The broker records the request and may notify its approvers.",
        "default": true}}, "required": ["confirm"]})json");
    auto answer = ctx.elicit(plan, schema);
    const auto* confirm = answer.content.if_contains("confirm");
    const bool yes =
        answer.action == "accept" && confirm && confirm->is_bool() && confirm->get_bool();
    if (!yes) {
      ctx.log("request_access: the user did not confirm (" + answer.action + ")");
      const bool cancelled = answer.action == "cancel";
      return {{"made", false},
              {"outcome", cancelled ? "cancelled" : "declined"},
              {"message", std::string("The user ") + (cancelled ? "dismissed" : "declined") +
                              " the request; none was made. Ask them before trying again."}};
    }
  }
  body["dry_run"] = false;
  auto created = api.post("/api/v1/access-requests", body);
  auto s = summarize(created);
  ctx.log("request_access: created " + text(created, "id") + " (" + text(created, "status") + ")");
  json::object out{{"made", true},
                   {"outcome", "created"},
                   {"message", "Created " + text(created, "id") + " (" + text(created, "status") +
                                   "). " + next_step(s)},
                   {"request_id", s.at("request_id")},
                   {"request", std::move(s)}};
  return out;
}

// --- wait_for_access ---------------------------------------------------------------------

json::object wait_for_access(const json::object& args, tool_context& ctx) {
  const std::string id = string_arg(args, "request_id");
  auto bound = ctx.settings.max_wait;
  if (args.contains("max_wait_seconds"))
    bound = std::min(bound, std::chrono::seconds{int_arg(args, "max_wait_seconds", 1)});
  const auto start = std::chrono::steady_clock::now();
  auto api = connect(ctx.g);
  json::object s;
  for (;;) {
    s = summarize(get_request(api, id));
    const std::string status(s.at("status").as_string());
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    const bool settled = status != "PENDING" && status != "GRANTING";
    if (settled || waited >= bound) {
      s["settled"] = settled;
      s["waited_seconds"] = static_cast<double>(waited.count()) / 1000.0;
      s["next_step"] = next_step(s);
      return s;
    }
    ctx.progress(static_cast<double>(waited.count()) / 1000.0, static_cast<double>(bound.count()),
                 id + " is " + status + (status == "PENDING" ? ": waiting for an approver" : ""));
    auto nap = std::min<std::chrono::milliseconds>(
        ctx.settings.poll_interval,
        std::chrono::duration_cast<std::chrono::milliseconds>(bound) - waited);
    if (!ctx.cancel.sleep_for(nap)) throw tool_error("cancelled by the client");
  }
}

// --- revoke_access -----------------------------------------------------------------------

json::object revoke_access(const json::object& args, tool_context& ctx) {
  const std::string id = string_arg(args, "request_id");
  std::string reason = string_arg(args, "reason");
  auto api = connect(ctx.g);
  auto before = summarize(get_request(api, id));
  const std::string status(before.at("status").as_string());
  if (ended_statuses.contains(status) || status == "REVOKING") {
    ctx.sessions.end(id);
    before["revoked_now"] = false;
    before["next_step"] = "Nothing to revoke: " + id + " is already " + status + ".";
    return before;
  }
  if (reason.empty()) reason = "revoked from an AI tool (apono mcp)";
  (void)api.post("/api/v1/access-requests/" + url_encode(id) + "/revoke",
                 json::object{{"reason", reason}});
  // The local proxies stop now, not when the event feed tells them.
  ctx.sessions.end(id);
  json::object s;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    s = summarize(get_request(api, id));
    if (s.at("status").as_string() != "REVOKING" || std::chrono::steady_clock::now() >= deadline)
      break;
    if (!ctx.cancel.sleep_for(200ms)) break;
  }
  s["revoked_now"] = true;
  s["next_step"] = "Access " + id + " is " + std::string(s.at("status").as_string()) +
                   ": query_database refuses it from now on.";
  return s;
}

}  // namespace

void add_request_tools(tool_registry& r) {
  r.add(tool{
      "request_access", "Request access",
      "Asks the user's apono broker for just-in-time access: either `integration` + "
      "`resources` + `permissions` (names from list_catalog; `resource_type` when the "
      "integration has several) or a `bundle`, always with a `justification`, and optionally a "
      "`duration` in the CLI's syntax (hours like 0.75, or 90s, 45m, 1h30m; default: the "
      "flow's). The broker validates it first with a dry run: when it refuses, the result is "
      "an error saying why, and nothing is stored. When the client supports elicitation the "
      "user confirms what, for how long, under which access flow and approvers before the "
      "request is made; a client without elicitation gets the request made without asking, "
      "and the broker's access flow (automatic approval only where an admin allowed it, a "
      "person's approval otherwise) is the control. Returns `request_id`; a request needing "
      "approval is PENDING: follow it with wait_for_access.",
      parse_object(R"json({"type": "object", "properties": {
        "integration": {"type": "string", "description": "integration id or name, e.g. pg-local"},
        "resource_type": {"type": "string", "description": "e.g. database"},
        "resources": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                      "description": "resource names, e.g. [\"appdb\"]"},
        "permissions": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                        "description": "permission names, e.g. [\"read_only\"]"},
        "bundle": {"type": "string", "description": "a bundle name instead of the four above"},
        "justification": {"type": "string", "minLength": 1,
                          "description": "why the access is needed (ticket, incident)"},
        "duration": {"type": "string",
                     "description": "hours (0.75) or 90s, 45m, 1h30m; leave out for the default"}
      }, "required": ["justification"], "additionalProperties": false})json"),
      json::object{
          {"type", "object"},
          {"properties",
           json::object{
               {"made", parse_object(R"json({"type": "boolean"})json")},
               {"outcome",
                parse_object(
                    R"json({"type": "string", "enum": ["created", "declined", "cancelled"]})json")},
               {"message", parse_object(R"json({"type": "string"})json")},
               {"request_id", parse_object(R"json({"type": "string"})json")},
               {"request", summary_schema()}}},
          {"required", json::array{"made", "outcome", "message"}}},
      annotations(false, false, false, true), request_access});

  r.add(tool{
      "list_requests", "List access requests",
      "The user's own access requests, newest first: status, what, approvers, when access "
      "ends and the time left. Filter by `status`; `limit` caps the count (default 20).",
      parse_object(R"json({"type": "object", "properties": {
               "status": {"type": "string", "enum": ["PENDING", "GRANTING", "ACTIVE", "REVOKING",
                          "EXPIRED", "REVOKED", "REJECTED", "FAILED"]},
               "limit": {"type": "integer", "minimum": 1, "maximum": 100}
             }, "additionalProperties": false})json"),
      json::object{
          {"type", "object"},
          {"properties",
           json::object{{"requests", json::object{{"type", "array"}, {"items", summary_schema()}}},
                        {"count", parse_object(R"json({"type": "integer"})json")}}},
          {"required", json::array{"requests", "count"}}},
      annotations(true, false, true, false), [](const json::object& args, tool_context& ctx) {
        const auto limit = int_arg(args, "limit", 20);
        const auto status = string_arg(args, "status");
        auto api = connect(ctx.g);
        // One broker page holds the newest 100; a filter may need all of it.
        auto page = api.get("/api/v1/access-requests?limit=100");
        json::array out;
        for (const auto& x : page.as_array()) {
          if (!status.empty() && text(x, "status") != status) continue;
          if (static_cast<std::int64_t>(out.size()) >= limit) break;
          out.push_back(summarize(x));
        }
        json::object res{{"count", out.size()}, {"requests", std::move(out)}};
        return res;
      }});

  r.add(tool{
      "get_request", "Get an access request",
      "One access request by `request_id`: status, what it covers, its access flow and "
      "approvers, when access ends and the time left, and each unit's status.",
      json::object{{"type", "object"},
                   {"properties", json::object{{"request_id", json::parse(request_id_property)}}},
                   {"required", json::array{"request_id"}},
                   {"additionalProperties", false}},
      summary_schema(R"json({"next_step": {"type": "string"}})json"),
      annotations(true, false, true, false), [](const json::object& args, tool_context& ctx) {
        auto api = connect(ctx.g);
        auto s = summarize(get_request(api, string_arg(args, "request_id")));
        s["next_step"] = next_step(s);
        return s;
      }});

  r.add(tool{
      "wait_for_access", "Wait for access",
      "Waits until request `request_id` leaves PENDING/GRANTING (ACTIVE, REJECTED, "
      "FAILED...), sending progress notifications meanwhile, and returns within the "
      "server's bound (under a minute, before clients time out) with the current status "
      "even when nothing changed: `settled` is false then, and you may call it again. "
      "A PENDING request waits for a person, which can take long: tell the user.",
      json::object{
          {"type", "object"},
          {"properties",
           json::object{{"request_id", json::parse(request_id_property)},
                        {"max_wait_seconds",
                         parse_object(R"json({"type": "integer", "minimum": 1, "maximum": 55,
                                           "description": "wait at most this long, within the server's bound"})json")}}},
          {"required", json::array{"request_id"}},
          {"additionalProperties", false}},
      summary_schema(R"json({"settled": {"type": "boolean"}, "waited_seconds": {"type": "number"},
                               "next_step": {"type": "string"}})json",
                     R"json(["request_id", "status", "settled", "waited_seconds"])json"),
      annotations(true, false, true, false), wait_for_access});

  r.add(tool{"revoke_access", "Revoke access",
             "Ends request `request_id` now: an ACTIVE grant is taken back at the target and "
             "query_database refuses it from then on; a PENDING request is withdrawn. Revoking "
             "one that has already ended changes nothing. Do it as soon as the work is done.",
             json::object{{"type", "object"},
                          {"properties",
                           json::object{{"request_id", json::parse(request_id_property)},
                                        {"reason", parse_object(R"json({"type": "string"})json")}}},
                          {"required", json::array{"request_id"}},
                          {"additionalProperties", false}},
             summary_schema(
                 R"json({"revoked_now": {"type": "boolean"}, "next_step": {"type": "string"}})json",
                 R"json(["request_id", "status", "revoked_now"])json"),
             annotations(false, true, true, false), revoke_access});
}

}  // namespace apono::cli::mcp
