// Access-flow evaluation.
#include "broker/policy.hpp"

#include <algorithm>

#include "common/duration.hpp"
#include "common/error.hpp"

namespace apono::broker {

using common::api_error;
using common::errc;

bool glob_match(std::string_view p, std::string_view t) noexcept {
  // Iterative matcher with single-star backtracking: linear in practice, no recursion.
  std::size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && (p[pi] == '?' || p[pi] == t[ti])) {
      ++pi, ++ti;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

namespace {

bool target_allows(const flow_target& t, std::string_view integration, std::string_view resource,
                   std::string_view permission) {
  if (t.integration != integration) return false;
  bool res = std::any_of(t.resources.begin(), t.resources.end(),
                         [&](const std::string& pat) { return glob_match(pat, resource); });
  bool perm = std::any_of(t.permissions.begin(), t.permissions.end(),
                          [&](const std::string& p) { return p == "*" || p == permission; });
  return res && perm;
}

bool flow_allows(const access_flow_config& f, std::string_view integration,
                 std::string_view resource, std::string_view permission) {
  return std::any_of(f.targets.begin(), f.targets.end(), [&](const flow_target& t) {
    return target_allows(t, integration, resource, permission);
  });
}

bool unit_exists(const config& cfg, const common::access_unit& u) {
  const auto* integ = cfg.find_integration(u.integration);
  if (!integ) return false;
  bool res = std::any_of(integ->resources.begin(), integ->resources.end(),
                         [&](const resource_config& r) { return r.name == u.resource; });
  bool perm = std::any_of(integ->permissions.begin(), integ->permissions.end(),
                          [&](const permission_config& p) { return p.name == u.permission; });
  return res && perm;
}

}  // namespace

bool may_request(const config& cfg, std::string_view user, const integration_config& integration,
                 std::string_view resource, std::string_view permission) {
  return std::any_of(cfg.flows.begin(), cfg.flows.end(), [&](const access_flow_config& f) {
    return cfg.matches(f.requestors, user) && flow_allows(f, integration.id, resource, permission);
  });
}

std::vector<const integration_config*> visible_integrations(const config& cfg,
                                                            std::string_view user) {
  std::vector<const integration_config*> out;
  for (const auto& integ : cfg.integrations)
    if (!visible_resources(cfg, user, integ).empty()) out.push_back(&integ);
  return out;
}

std::vector<std::string> visible_resources(const config& cfg, std::string_view user,
                                           const integration_config& integration) {
  std::vector<std::string> out;
  for (const auto& r : integration.resources)
    for (const auto& p : integration.permissions)
      if (may_request(cfg, user, integration, r.name, p.name)) {
        out.push_back(r.name);
        break;
      }
  return out;
}

std::vector<std::string> visible_permissions(const config& cfg, std::string_view user,
                                             const integration_config& integration) {
  std::vector<std::string> out;
  for (const auto& p : integration.permissions)
    for (const auto& r : integration.resources)
      if (may_request(cfg, user, integration, r.name, p.name)) {
        out.push_back(p.name);
        break;
      }
  return out;
}

std::vector<const bundle_config*> visible_bundles(const config& cfg, std::string_view user) {
  std::vector<const bundle_config*> out;
  for (const auto& b : cfg.bundles) {
    bool all = !b.targets.empty();
    for (const auto& t : b.targets) {
      const auto* integ = cfg.find_integration(t.integration);
      for (const auto& r : t.resources)
        for (const auto& p : t.permissions)
          all = all && integ && may_request(cfg, user, *integ, r, p);
    }
    if (all) out.push_back(&b);
  }
  return out;
}

flow_choice choose_flow(const config& cfg, std::string_view user,
                        const std::vector<common::access_unit>& units,
                        std::optional<std::chrono::seconds> duration,
                        std::string_view justification) {
  if (units.empty()) throw api_error(errc::invalid_argument, "the request names no resources");
  for (const auto& u : units)
    if (!unit_exists(cfg, u))
      throw api_error(errc::invalid_argument, "unknown resource or permission: " + u.integration +
                                                  "/" + u.resource + " " + u.permission);

  std::vector<const access_flow_config*> allowing;
  for (const auto& f : cfg.flows) {
    if (!cfg.matches(f.requestors, user)) continue;
    bool all = std::all_of(units.begin(), units.end(), [&](const common::access_unit& u) {
      return flow_allows(f, u.integration, u.resource, u.permission);
    });
    if (all) allowing.push_back(&f);
  }
  if (allowing.empty()) {
    // Name the first unit that no flow of this user allows, so the message is actionable.
    for (const auto& u : units) {
      const auto* integ = cfg.find_integration(u.integration);
      if (!may_request(cfg, user, *integ, u.resource, u.permission))
        throw api_error(errc::permission_denied, "no access flow lets " + std::string(user) +
                                                     " request " + u.permission + " on " +
                                                     u.integration + "/" + u.resource);
    }
    throw api_error(errc::permission_denied,
                    "no single access flow covers all of these resources and permissions; "
                    "request them separately");
  }

  bool has_justification = justification.find_first_not_of(" \t\r\n") != std::string_view::npos;
  const access_flow_config* need_justification = nullptr;
  const access_flow_config* too_long = nullptr;
  std::optional<flow_choice> best;
  for (const auto* f : allowing) {
    if (f->justification_required && !has_justification) {
      if (!need_justification) need_justification = f;
      continue;
    }
    auto d = duration.value_or(std::min(f->default_duration, f->max_duration));
    if (d > f->max_duration) {
      if (!too_long || f->max_duration > too_long->max_duration) too_long = f;
      continue;
    }
    if (!best || (f->automatic && !best->flow->automatic)) best = flow_choice{f, d};
    if (best->flow->automatic) break;
  }
  if (best) return *best;
  if (need_justification && (!too_long || !has_justification))
    throw api_error(errc::invalid_argument, "a justification is required by access flow '" +
                                                need_justification->name + "'");
  throw api_error(errc::failed_precondition,
                  "duration " + common::format_duration(*duration) + " exceeds the maximum of " +
                      common::format_duration(too_long->max_duration) +
                      " allowed by access flow '" + too_long->name + "'");
}

bool is_approver(const config& cfg, const access_flow_config& flow, std::string_view user) {
  return cfg.matches(flow.approvers, user);
}

std::vector<std::string> approver_names(const config& cfg, const access_flow_config& flow,
                                        std::string_view requester) {
  std::vector<std::string> out;
  if (flow.automatic) return out;
  auto add = [&](const std::string& user) {
    if (user != requester && std::find(out.begin(), out.end(), user) == out.end())
      out.push_back(user);
  };
  for (const auto& u : flow.approvers.users) add(u);
  for (const auto& name : flow.approvers.groups)
    for (const auto& grp : cfg.groups)
      if (grp.name == name)
        for (const auto& m : grp.members) add(m);
  return out;
}

}  // namespace apono::broker
