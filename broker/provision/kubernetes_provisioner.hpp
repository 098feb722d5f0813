// Kubernetes provisioner: one ServiceAccount and one RoleBinding per access unit in the
// requested namespace, short-lived bearer tokens from the TokenRequest API when the user
// accesses, and removal of the ServiceAccount, which invalidates every token it was issued.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "broker/provision/provisioner.hpp"
#include "common/time.hpp"

namespace apono::broker {

/// Grants by creating ServiceAccount `u.login` in namespace `u.resource` and a RoleBinding of
/// the same name to the permission's ClusterRole; issues tokens for it with TokenRequest;
/// revokes by deleting both. Touches only objects labelled `app.kubernetes.io/managed-by:
/// apono`, so a clash with a name someone else chose never changes their objects.
class kubernetes_provisioner final : public provisioner {
 public:
  /// Uses `clock` (which must outlive the provisioner) to turn an end time into a lifetime.
  explicit kubernetes_provisioner(const common::clock& clock);
  ~kubernetes_provisioner() override;
  kubernetes_provisioner(const kubernetes_provisioner&) = delete;
  kubernetes_provisioner& operator=(const kubernetes_provisioner&) = delete;

  /// Creates the ServiceAccount and RoleBinding, or accepts those an earlier attempt made.
  void grant(const provision_unit& u) override;
  /// Deletes the RoleBinding, then the ServiceAccount; objects already gone are success.
  void revoke(const provision_unit& u) override;
  /// Recreates the ServiceAccount under a new uid, so every token issued so far stops working.
  void reset(const provision_unit& u) override;
  /// Checks the settings, that the API server accepts the broker's token and that each
  /// permission's ClusterRole exists (where the broker may read ClusterRoles).
  void check(const integration_config& integration) override;
  /// A TokenRequest token for the unit's ServiceAccount, valid until `until` (or 600 s, the
  /// API's minimum, when less is left).
  issued_credentials issue(const provision_unit& u, common::time_point until) override;

  /// A fresh ServiceAccount name for request `request_number`: `apono-ar<N>-<6 random [a-z0-9]>`.
  static std::string make_name(std::int64_t request_number);

 private:
  struct pool;
  const common::clock& clock_;
  std::unique_ptr<pool> pool_;
};

}  // namespace apono::broker
