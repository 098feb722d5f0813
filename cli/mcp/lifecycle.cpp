// Version negotiation and the initialize result.
#include "cli/mcp/lifecycle.hpp"

#include <boost/json.hpp>

#include <array>

namespace apono::cli::mcp {

namespace json = boost::json;

namespace {

constexpr std::array<std::string_view, 3> supported = {"2025-11-25", "2025-06-18", "2025-03-26"};

}  // namespace

std::string negotiate_version(std::string_view requested) {
  for (auto v : supported)
    if (v == requested) return std::string(v);
  return std::string(latest_version);
}

bool has_structured_output(std::string_view version) {
  // Revisions are dates: they compare as strings.
  return version >= std::string_view("2025-06-18");
}

client_info read_client(const json::object& params, std::string version) {
  client_info c;
  c.version = std::move(version);
  if (const auto* info = params.if_contains("clientInfo"); info && info->is_object())
    if (const auto* n = info->as_object().if_contains("name"); n && n->is_string())
      c.name = std::string(n->get_string());
  if (const auto* caps = params.if_contains("capabilities"); caps && caps->is_object()) {
    if (const auto* e = caps->as_object().if_contains("elicitation"); e && e->is_object()) {
      // 2025-11-25 splits elicitation into form and url modes; an empty object means form.
      const auto& eo = e->as_object();
      c.elicitation = eo.empty() || eo.contains("form");
    }
  }
  c.elicitation = c.elicitation && has_structured_output(c.version);
  return c;
}

std::string server_instructions() {
  return "apono gives you just-in-time access to the user's databases and other resources "
         "through their apono broker, with their own login. The rule: you never receive a "
         "password, token or key. Database access happens inside apono: query_database runs "
         "your SQL through a local proxy that logs in for you and stops the moment the grant "
         "ends.\n"
         "Typical path: list_catalog to see what may be requested (and whether approval is "
         "automatic); request_access with a clear justification and the shortest duration "
         "that will do (the broker validates it first; fix what its errors say); "
         "wait_for_access until the request is ACTIVE (it returns within a minute with the "
         "current status: call it again while PENDING, a person has to approve); then "
         "query_database for SQL, or get_connection_instructions to tell the user how to "
         "connect themselves; revoke_access as soon as the work is done.\n"
         "Access requests are audited and may notify approvers: request only what the task "
         "needs, and never retry a rejected request without asking the user. When access "
         "ends, query_database refuses with the reason; request it again only if the user "
         "wants to.";
}

json::object initialize_result(const client_info& client) {
  json::object server{{"name", "apono"}, {"version", APONO_VERSION}};
  if (has_structured_output(client.version)) server["title"] = "apono just-in-time access";
  return {{"protocolVersion", client.version},
          {"capabilities", json::object{{"tools", json::object{{"listChanged", true}}}}},
          {"serverInfo", std::move(server)},
          {"instructions", server_instructions()}};
}

}  // namespace apono::cli::mcp
