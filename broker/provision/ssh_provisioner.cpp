// The ssh provisioner: validation only; see the header for why nothing happens on the host.
#include "broker/provision/ssh_provisioner.hpp"

namespace apono::broker {

void ssh_provisioner::grant(const provision_unit& u) {
  if (!u.integration->find_resource(u.resource))
    throw provision_error("host '" + u.resource + "' is not configured in " + u.integration->id);
  if (!u.integration->find_permission(u.permission))
    throw provision_error("login '" + u.permission + "' is not configured in " + u.integration->id);
}

void ssh_provisioner::revoke(const provision_unit& /*u*/) {}

void ssh_provisioner::reset(const provision_unit& /*u*/) {}

void ssh_provisioner::check(const integration_config& integration) {
  for (const auto& r : integration.resources)
    if (r.host_keys.empty()) throw provision_error("host '" + r.name + "' has no host key");
  for (const auto& p : integration.permissions)
    if (p.principal.empty()) throw provision_error("login '" + p.name + "' has no principal");
}

}  // namespace apono::broker
