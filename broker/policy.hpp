// Access-flow policy: what a user may see and request, which flow governs a request, and who
// may approve it. Pure functions over the config; no I/O.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/config.hpp"
#include "common/model.hpp"

namespace apono::broker {

/// `*` and `?` glob match (no character classes), as used by flow resource patterns.
[[nodiscard]] bool glob_match(std::string_view pattern, std::string_view text) noexcept;

/// True when some flow lets `user` request `permission` on `resource` of `integration`.
[[nodiscard]] bool may_request(const config& cfg, std::string_view user,
                               const integration_config& integration, std::string_view resource,
                               std::string_view permission);

/// Integrations of which `user` may request at least one unit.
[[nodiscard]] std::vector<const integration_config*> visible_integrations(const config& cfg,
                                                                          std::string_view user);
/// Resources of `integration` that `user` may request with some permission.
[[nodiscard]] std::vector<std::string> visible_resources(const config& cfg, std::string_view user,
                                                         const integration_config& integration);
/// Permissions of `integration` that `user` may request on some resource.
[[nodiscard]] std::vector<std::string> visible_permissions(const config& cfg, std::string_view user,
                                                           const integration_config& integration);
/// Bundles all of whose units `user` may request.
[[nodiscard]] std::vector<const bundle_config*> visible_bundles(const config& cfg,
                                                                std::string_view user);

/// The flow chosen for a request and the duration it gets.
struct flow_choice {
  const access_flow_config* flow = nullptr;  ///< never null on success
  std::chrono::seconds duration{0};          ///< the requested one, or the flow's default
};

/// Picks the flow for `units` requested by `user`: among flows that allow every unit and
/// accept the duration and justification, an automatic one first, then the first in config
/// order. Throws api_error: permission_denied naming a unit no flow allows, invalid_argument
/// for a missing justification, failed_precondition for a duration over every maximum.
[[nodiscard]] flow_choice choose_flow(const config& cfg, std::string_view user,
                                      const std::vector<common::access_unit>& units,
                                      std::optional<std::chrono::seconds> duration,
                                      std::string_view justification);

/// True when `user` is one of `flow`'s approvers.
[[nodiscard]] bool is_approver(const config& cfg, const access_flow_config& flow,
                               std::string_view user);

/// Who may approve a request of `requester` under `flow`: its approver users, then its approver
/// groups' members, each once, without the requester (nobody approves their own request).
/// Empty for an automatic flow.
[[nodiscard]] std::vector<std::string> approver_names(const config& cfg,
                                                      const access_flow_config& flow,
                                                      std::string_view requester);

}  // namespace apono::broker
