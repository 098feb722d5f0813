// The Request Access modal: reading its state, building it, and mapping errors onto it.
#include "broker/slack/request_form.hpp"

#include <algorithm>
#include <cctype>

#include "broker/policy.hpp"
#include "broker/slack/blocks.hpp"
#include "common/duration.hpp"
#include "common/error.hpp"
#include "common/shell.hpp"

namespace apono::broker::slack {

namespace json = boost::json;
using common::api_error;
using common::errc;

namespace {

// Blocks whose lists depend on the integration carry it in their block_id: when the
// integration changes, Slack keeps no stale selection for the new block.
std::string dependent_id(std::string_view base, const std::string& integration) {
  return std::string(base) + ":" + integration;
}

const json::object* object_at(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_object() ? &it->value().get_object() : nullptr;
}

// The selected value(s) of one element's state, whatever its type.
std::vector<std::string> values_of(const json::object& state) {
  std::vector<std::string> out;
  if (auto it = state.find("value"); it != state.end() && it->value().is_string())
    out.emplace_back(it->value().get_string());
  if (const auto* sel = object_at(state, "selected_option"))
    if (auto v = sel->find("value"); v != sel->end() && v->value().is_string())
      out.emplace_back(v->value().get_string());
  if (auto it = state.find("selected_options"); it != state.end() && it->value().is_array())
    for (const auto& o : it->value().get_array())
      if (o.is_object())
        if (auto v = o.get_object().find("value");
            v != o.get_object().end() && v->value().is_string())
          out.emplace_back(v->value().get_string());
  return out;
}

std::string first(const std::vector<std::string>& v) {
  return v.empty() ? std::string() : v.front();
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Permissions the user may request on every chosen resource (all visible ones before any).
std::vector<std::string> allowed_permissions(const config& cfg, std::string_view user,
                                             const integration_config& integ,
                                             const std::vector<std::string>& resources) {
  std::vector<std::string> out;
  for (const auto& p : visible_permissions(cfg, user, integ)) {
    bool all = std::all_of(resources.begin(), resources.end(), [&](const std::string& r) {
      return may_request(cfg, user, integ, r, p);
    });
    if (all) out.push_back(p);
  }
  return out;
}

std::string join(const std::vector<std::string>& v, std::string_view sep = ", ") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : std::string(sep)) + s;
  return out;
}

// What the flow that would govern the selection says: approval, maximum, default. Empty when
// the selection is not complete or no flow allows it (the submission says why).
std::string flow_hint(const config& cfg, std::string_view user, const form_state& st) {
  std::vector<common::access_unit> units;
  if (st.bundle_mode) {
    const auto* b = cfg.find_bundle(st.bundle);
    if (!b) return {};
    for (const auto& t : b->targets)
      for (const auto& r : t.resources)
        for (const auto& p : t.permissions)
          units.push_back({0, t.integration, "", r, p, common::status::pending, {}});
  } else {
    for (const auto& r : st.resources)
      for (const auto& p : st.permissions)
        units.push_back({0, st.integration, st.resource_type, r, p, common::status::pending, {}});
  }
  if (units.empty()) return {};
  try {
    // A placeholder justification: the hint is about the flow, not about this field.
    auto choice = choose_flow(cfg, user, units, std::nullopt, "-");
    const auto& f = *choice.flow;
    std::string approval =
        f.automatic ? "approved automatically"
                    : "approved by " + join(approver_names(cfg, f, user)) + " (one of them)";
    return "Access flow *" + blocks::escape(f.name) + "*: " + blocks::escape(approval) +
           " · at most " + common::format_duration(f.max_duration) + " · default " +
           common::format_duration(std::min(f.default_duration, f.max_duration)) +
           (f.justification_required ? " · justification required" : "");
  } catch (const api_error&) {
    return {};
  }
}

json::object select(std::string_view type, std::string_view action_id,
                    std::string_view placeholder) {
  return json::object{{"type", type},
                      {"action_id", action_id},
                      {"placeholder", blocks::plain(placeholder, blocks::limits::placeholder)}};
}

json::array chosen_options(const std::vector<std::string>& values) {
  return blocks::options(values);
}

}  // namespace

form_state read_form(const json::object& view) {
  form_state st;
  if (auto m = view.find("private_metadata"); m != view.end() && m->value().is_string()) {
    boost::system::error_code ec;
    auto meta = json::parse(m->value().get_string(), ec);
    if (!ec && meta.is_object())
      if (auto c = meta.get_object().find("channel");
          c != meta.get_object().end() && c->value().is_string())
        st.channel = std::string(c->value().get_string());
  }
  const auto* state = object_at(view, "state");
  const auto* values = state ? object_at(*state, "values") : nullptr;
  if (!values) return st;
  auto block = [&](const std::string& id, std::string_view action) -> std::vector<std::string> {
    const auto* b = object_at(*values, id);
    const auto* a = b ? object_at(*b, action) : nullptr;
    return a ? values_of(*a) : std::vector<std::string>{};
  };
  st.bundle_mode = first(block("mode", "mode")) == "bundle";
  st.integration = first(block("integration", "integration"));
  if (!st.integration.empty()) {
    st.resource_type = first(block(dependent_id("resource_type", st.integration), "resource_type"));
    st.resources = block(dependent_id("resources", st.integration), "resources");
    st.permissions = block(dependent_id("permissions", st.integration), "permissions");
  }
  st.bundle = first(block("bundle", "bundle"));
  st.duration = first(block("duration", "duration"));
  st.justification = first(block("justification", "justification"));
  return st;
}

form_state normalize(const config& cfg, std::string_view user, form_state st) {
  auto bundles = visible_bundles(cfg, user);
  if (st.bundle_mode && bundles.empty()) st.bundle_mode = false;
  if (std::none_of(bundles.begin(), bundles.end(),
                   [&](const bundle_config* b) { return b->name == st.bundle; }))
    st.bundle.clear();
  const integration_config* integ = nullptr;
  for (const auto* i : visible_integrations(cfg, user))
    if (i->id == st.integration) integ = i;
  if (!integ) {
    st.integration.clear();
    st.resource_type.clear();
    st.resources.clear();
    st.permissions.clear();
    return st;
  }
  st.resource_type = integ->resource_type;
  auto resources = visible_resources(cfg, user, *integ);
  std::erase_if(st.resources, [&](const std::string& r) { return !contains(resources, r); });
  auto perms = allowed_permissions(cfg, user, *integ, st.resources);
  std::erase_if(st.permissions, [&](const std::string& p) { return !contains(perms, p); });
  return st;
}

json::object build_form(const config& cfg, std::string_view user, form_state st) {
  st = normalize(cfg, user, std::move(st));
  json::array b;
  b.push_back(
      blocks::section("Request just-in-time access. Each list shows only what your "
                      "access flows let you request."));
  const auto bundles = visible_bundles(cfg, user);
  if (!bundles.empty()) {
    auto radio = json::object{
        {"type", "radio_buttons"},
        {"action_id", "mode"},
        {"options", json::array{blocks::option("Resources of one integration", "resources"),
                                blocks::option("A bundle", "bundle")}}};
    radio["initial_option"] = st.bundle_mode
                                  ? blocks::option("A bundle", "bundle")
                                  : blocks::option("Resources of one integration", "resources");
    b.push_back(blocks::input("mode", "What to request", std::move(radio), true));
  }
  if (st.bundle_mode) {
    std::vector<std::string> names;
    for (const auto* x : bundles) names.push_back(x->name);
    auto e = select("static_select", "bundle", "Choose a bundle");
    e["options"] = blocks::options(names);
    if (!st.bundle.empty()) e["initial_option"] = blocks::option(st.bundle, st.bundle);
    b.push_back(blocks::input("bundle", "Bundle", std::move(e), true));
    if (const auto* bundle = cfg.find_bundle(st.bundle)) {
      std::string what;
      for (const auto& t : bundle->targets)
        what += "\n• " + blocks::escape(t.integration) + ": " + blocks::escape(join(t.resources)) +
                " (" + blocks::escape(join(t.permissions)) + ")";
      b.push_back(blocks::context("Grants:" + what));
    }
  } else {
    json::array integ_options;
    const integration_config* chosen = nullptr;
    for (const auto* i : visible_integrations(cfg, user)) {
      if (integ_options.size() == blocks::limits::options) break;
      integ_options.push_back(blocks::option(i->name + " (" + i->type + ")", i->id));
      if (i->id == st.integration) chosen = i;
    }
    if (integ_options.empty()) {
      b.push_back(
          blocks::section(":no_entry: No access flow lets you request anything yet; ask "
                          "an admin."));
      return blocks::modal("Request access", request_form_callback, std::move(b));
    }
    auto e = select("static_select", "integration", "Choose an integration");
    e["options"] = std::move(integ_options);
    if (chosen)
      e["initial_option"] = blocks::option(chosen->name + " (" + chosen->type + ")", chosen->id);
    b.push_back(blocks::input("integration", "Integration", std::move(e), true));
    if (chosen) {
      auto t = select("static_select", "resource_type", "Resource type");
      t["options"] = blocks::options({chosen->resource_type});
      t["initial_option"] = blocks::option(chosen->resource_type, chosen->resource_type);
      b.push_back(blocks::input(dependent_id("resource_type", chosen->id), "Resource type",
                                std::move(t), true));
      const auto resources = visible_resources(cfg, user, *chosen);
      const bool search = resources.size() > max_listed_resources;
      auto r = select(search ? "multi_external_select" : "multi_static_select", "resources",
                      search ? "Type to search" : "Choose resources");
      if (search)
        r["min_query_length"] = 0;
      else
        r["options"] = blocks::options(resources);
      if (!st.resources.empty()) r["initial_options"] = chosen_options(st.resources);
      b.push_back(blocks::input(
          dependent_id("resources", chosen->id), "Resources (" + chosen->resource_type + ")",
          std::move(r), true, false,
          search ? std::to_string(resources.size()) + " resources: type part of a name to search"
                 : std::string()));
      const auto perms = allowed_permissions(cfg, user, *chosen, st.resources);
      if (perms.empty()) {
        b.push_back(
            blocks::context(":warning: No permission is allowed on all of these "
                            "resources together; request them separately."));
      } else {
        auto p = select("multi_static_select", "permissions", "Choose permissions");
        p["options"] = blocks::options(perms);
        if (!st.permissions.empty()) p["initial_options"] = chosen_options(st.permissions);
        b.push_back(blocks::input(dependent_id("permissions", chosen->id), "Permissions",
                                  std::move(p), true));
      }
    }
  }
  if (auto hint = flow_hint(cfg, user, st); !hint.empty()) b.push_back(blocks::context(hint));
  json::object d{{"type", "plain_text_input"},
                 {"action_id", "duration"},
                 {"placeholder", blocks::plain("Hours, e.g. 1 or 0.5 (or 90m, 1h30m)",
                                               blocks::limits::placeholder)}};
  if (!st.duration.empty()) d["initial_value"] = st.duration;
  b.push_back(blocks::input("duration", "Duration", std::move(d), false, true,
                            "Empty: the access flow's default."));
  json::object j{{"type", "plain_text_input"},
                 {"action_id", "justification"},
                 {"multiline", true},
                 {"max_length", 3000},
                 {"placeholder", blocks::plain("Why you need this access (ticket, incident...)",
                                               blocks::limits::placeholder)}};
  if (!st.justification.empty()) j["initial_value"] = blocks::truncate(st.justification, 3000);
  b.push_back(blocks::input("justification", "Justification", std::move(j), false, true));
  json::object meta{{"channel", st.channel}};
  return blocks::modal("Request access", request_form_callback, std::move(b), json::serialize(meta),
                       "Request", "Cancel");
}

json::array suggest_resources(const config& cfg, std::string_view user, const form_state& st,
                              std::string_view query) {
  json::array out;
  const integration_config* integ = nullptr;
  for (const auto* i : visible_integrations(cfg, user))
    if (i->id == st.integration) integ = i;
  if (!integ) return out;
  const auto q = lower(query);
  for (const auto& r : visible_resources(cfg, user, *integ)) {
    if (out.size() == blocks::limits::options) break;
    if (lower(r).find(q) != std::string::npos) out.push_back(blocks::option(r, r));
  }
  return out;
}

create_input to_input(const form_state& st) {
  create_input in;
  if (st.bundle_mode) {
    in.bundle = st.bundle;
    if (in.bundle.empty()) throw api_error(errc::invalid_argument, "choose a bundle");
  } else {
    in.integration = st.integration;
    in.resource_type = st.resource_type;
    in.resources = st.resources;
    in.permissions = st.permissions;
  }
  in.justification = st.justification;
  if (!st.duration.empty()) {
    in.duration = common::parse_duration(st.duration);
    if (!in.duration)
      throw api_error(errc::invalid_argument, "invalid duration '" + st.duration.substr(0, 64) +
                                                  "': use hours (0.75) or 90s, 45m, 1h30m");
  }
  return in;
}

json::object form_errors(const form_state& st, std::string_view message) {
  const auto m = lower(message);
  std::string block;
  if (m.find("justification") != std::string::npos)
    block = "justification";
  else if (m.find("duration") != std::string::npos)
    block = "duration";
  else if (st.bundle_mode)
    block = "bundle";
  else if (st.integration.empty() || m.find("integration") != std::string::npos)
    block = "integration";
  else if (m.find("resource") != std::string::npos && m.find("permission") == std::string::npos)
    block = dependent_id("resources", st.integration);
  else
    block = dependent_id("permissions", st.integration);
  return json::object{{block, blocks::truncate(message, 2000)}};
}

std::string repeat_command(const form_state& st) {
  std::string cmd = "apono requests create";
  auto add = [&](std::string_view flag, const std::string& value) {
    cmd += " " + std::string(flag) + " " + common::shell_quote(value);
  };
  if (st.bundle_mode) {
    add("--bundle", st.bundle);
  } else {
    add("-i", st.integration);
    if (!st.resource_type.empty()) add("-t", st.resource_type);
    for (const auto& r : st.resources) add("-r", r);
    for (const auto& p : st.permissions) add("-p", p);
  }
  add("-j", st.justification);
  if (!st.duration.empty()) add("-d", st.duration);
  return cmd;
}

}  // namespace apono::broker::slack
