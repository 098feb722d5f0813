// list_catalog: what the user may request, resource by resource, with each permission's
// access flow, whether approval is automatic and the longest duration it allows (the broker's
// plan endpoint answers that without storing anything).
#include <boost/json.hpp>

#include <algorithm>
#include <map>

#include "cli/api_client.hpp"
#include "cli/catalog.hpp"
#include "cli/mcp/tool_registry.hpp"
#include "cli/output.hpp"
#include "common/duration.hpp"

namespace apono::cli::mcp {

namespace json = boost::json;

namespace {

struct entry {
  std::string integration, integration_name, integration_type, resource_type, resource;
};

bool contains_folded(const std::string& hay, const std::string& needle) {
  auto fold = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  };
  return fold(hay).find(fold(needle)) != std::string::npos;
}

// The plan of every (resource, permission) of one integration and resource type: the
// permissions some flow lets the user request, per resource.
std::map<std::string, json::array> plan_permissions(api_client& api, const entry& first,
                                                    const std::vector<std::string>& resources,
                                                    const std::vector<std::string>& permissions) {
  std::map<std::string, json::array> out;
  if (permissions.empty()) return out;
  // The broker plans at most 100 units at once.
  const std::size_t per_call = std::max<std::size_t>(1, 100 / permissions.size());
  for (std::size_t i = 0; i < resources.size(); i += per_call) {
    json::array rs, ps;
    for (std::size_t j = i; j < std::min(resources.size(), i + per_call); ++j)
      rs.emplace_back(resources[j]);
    for (const auto& p : permissions) ps.emplace_back(p);
    json::object body{{"integration", first.integration},
                      {"resources", std::move(rs)},
                      {"permissions", std::move(ps)},
                      // Flows that require a justification are passed over without one.
                      {"justification", "listing the catalog"}};
    if (!first.resource_type.empty()) body["resource_type"] = first.resource_type;
    auto plan = api.post("/api/v1/access-requests/plan", body);
    const auto* groups = plan.as_object().if_contains("groups");
    if (!groups || !groups->is_array()) continue;
    for (const auto& g : groups->as_array()) {
      json::object info{
          {"access_flow", text(g, "flow")},
          {"automatic", g.as_object().contains("automatic") && g.at("automatic").is_bool() &&
                            g.at("automatic").get_bool()}};
      json::array approvers;
      if (const auto* a = g.as_object().if_contains("approvers"); a && a->is_array())
        approvers = a->as_array();
      info["approvers"] = std::move(approvers);
      info["max_duration"] = nullptr;
      if (const auto* m = g.as_object().if_contains("max_duration_seconds");
          m && m->is_int64() && m->get_int64() > 0)
        info["max_duration"] = common::format_duration(std::chrono::seconds{m->get_int64()});
      info["default_duration"] = nullptr;
      if (const auto* d = g.as_object().if_contains("duration_seconds");
          d && d->is_int64() && d->get_int64() > 0)
        info["default_duration"] = common::format_duration(std::chrono::seconds{d->get_int64()});
      info["justification_required"] = text(g, "justification_required") == "true";
      if (const auto* units = g.as_object().if_contains("units"); units && units->is_array())
        for (const auto& u : units->as_array()) {
          json::object p = info;
          p["permission"] = text(u, "permission");
          out[text(u, "resource")].push_back(std::move(p));
        }
    }
  }
  return out;
}

json::object list_catalog(const json::object& args, tool_context& ctx) {
  const auto want_integration = string_arg(args, "integration");
  const auto want_type = string_arg(args, "resource_type");
  const auto search = string_arg(args, "search");
  const auto limit = static_cast<std::size_t>(int_arg(args, "limit", 50));
  std::size_t offset = 0;
  if (auto c = string_arg(args, "cursor"); !c.empty()) {
    try {
      offset = std::stoul(c);
    } catch (const std::exception&) {
      throw tool_error("invalid cursor '" + c + "': pass next_cursor from the previous page");
    }
  }
  auto api = connect(ctx.g);
  json::array integrations;
  if (!want_integration.empty())
    integrations.push_back(find_integration(api, want_integration));
  else
    integrations = api.get("/api/v1/integrations").as_array();

  // Every resource first (cheap lists), then plans only for the page's resources.
  std::vector<entry> all;
  for (const auto& i : integrations) {
    std::vector<std::string> types;
    if (const auto* t = i.as_object().if_contains("resource_types"); t && t->is_array())
      for (const auto& x : t->as_array())
        types.push_back(x.is_string() ? std::string(x.get_string()) : text(x, "id"));
    if (types.empty()) types.emplace_back();
    for (const auto& type : types) {
      if (!want_type.empty() && type != want_type) continue;
      std::string target = "/api/v1/resources?integration=" + url_encode(text(i, "id"));
      if (!type.empty()) target += "&resource_type=" + url_encode(type);
      const auto resource_list = api.get_all(target);
      for (const auto& r : resource_list.as_array()) {
        entry e{text(i, "id"), text(i, "name"), text(i, "type"),
                type.empty() ? text(r, "resource_type") : type, text(r, "name")};
        if (!search.empty() && !contains_folded(e.resource, search)) continue;
        all.push_back(std::move(e));
      }
    }
  }
  const std::size_t end = std::min(all.size(), offset + limit);
  json::array page;
  // Plans per integration and resource type, for the resources on this page.
  std::map<std::pair<std::string, std::string>, std::vector<std::size_t>> groups;
  for (std::size_t k = offset; k < end; ++k)
    groups[{all[k].integration, all[k].resource_type}].push_back(k);
  std::map<std::size_t, json::array> perms_of;
  for (const auto& [key, idx] : groups) {
    std::string target = "/api/v1/permissions?integration=" + url_encode(key.first);
    if (!key.second.empty()) target += "&resource_type=" + url_encode(key.second);
    std::vector<std::string> permissions;
    const auto permission_list = api.get_all(target);
    for (const auto& p : permission_list.as_array()) permissions.push_back(text(p, "name"));
    std::vector<std::string> resources;
    for (auto k : idx) resources.push_back(all[k].resource);
    auto planned = plan_permissions(api, all[idx.front()], resources, permissions);
    for (auto k : idx) perms_of[k] = std::move(planned[all[k].resource]);
  }
  for (std::size_t k = offset; k < end; ++k) {
    if (perms_of[k].empty()) continue;  // no flow lets the user request anything on it
    const auto& e = all[k];
    page.push_back(json::object{{"integration", e.integration},
                                {"integration_name", e.integration_name},
                                {"integration_type", e.integration_type},
                                {"resource_type", e.resource_type},
                                {"resource", e.resource},
                                {"permissions", std::move(perms_of[k])}});
  }
  json::array bundles;
  const auto bundle_list = api.get("/api/v1/bundles");
  for (const auto& b : bundle_list.as_array())
    bundles.push_back(json::object{
        {"name", text(b, "name")},
        {"targets", b.as_object().contains("targets") ? b.at("targets") : json::array{}}});
  json::object out{
      {"resources", std::move(page)},
      {"bundles", std::move(bundles)},
      {"total_resources", all.size()},
      {"next_cursor", end < all.size() ? json::value(std::to_string(end)) : json::value(nullptr)}};
  return out;
}

}  // namespace

void add_catalog_tools(tool_registry& r) {
  r.add(tool{
      "list_catalog", "List what can be requested",
      "What the user may request through apono: each resource (integration, resource type, "
      "resource) with the permissions some access flow allows, whether approval is automatic, "
      "who approves otherwise, and the longest and default durations; plus the bundles. Filter "
      "by `integration`, `resource_type` or a `search` on resource names; pages of `limit` "
      "resources (default 50), the next one with `cursor` = the previous `next_cursor`.",
      json::parse(R"json({"type": "object", "properties": {
        "integration": {"type": "string", "description": "integration id or name"},
        "resource_type": {"type": "string"},
        "search": {"type": "string", "description": "part of a resource name"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 200},
        "cursor": {"type": "string"}
      }, "additionalProperties": false})json")
          .as_object(),
      json::parse(R"json({"type": "object", "properties": {
        "resources": {"type": "array", "items": {"type": "object", "properties": {
          "integration": {"type": "string"}, "integration_name": {"type": "string"},
          "integration_type": {"type": "string"}, "resource_type": {"type": "string"},
          "resource": {"type": "string"},
          "permissions": {"type": "array", "items": {"type": "object", "properties": {
            "permission": {"type": "string"}, "access_flow": {"type": "string"},
            "automatic": {"type": "boolean"},
            "approvers": {"type": "array", "items": {"type": "string"}},
            "max_duration": {"type": ["string", "null"]},
            "default_duration": {"type": ["string", "null"]},
            "justification_required": {"type": "boolean"}},
            "required": ["permission", "access_flow", "automatic"]}}},
          "required": ["integration", "resource", "permissions"]}},
        "bundles": {"type": "array", "items": {"type": "object", "properties": {
          "name": {"type": "string"}, "targets": {"type": "array"}}}},
        "total_resources": {"type": "integer"},
        "next_cursor": {"type": ["string", "null"]}
      }, "required": ["resources", "bundles", "next_cursor"]})json")
          .as_object(),
      json::object{{"readOnlyHint", true}, {"openWorldHint", false}}, list_catalog});
}

}  // namespace apono::cli::mcp
