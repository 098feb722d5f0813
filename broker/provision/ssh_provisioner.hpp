// SSH provisioner: hosts trust the broker's user CA, so a grant creates nothing on the host.
// The credential is a certificate signed per session (service::ssh_certificate) that expires
// at the grant end, which is what stops new logins there.
#pragma once

#include "broker/provision/provisioner.hpp"

namespace apono::broker {

/// Checks that an ssh unit still names a configured host and login; the host itself is not
/// contacted (it trusts the CA, and the account must already exist there).
class ssh_provisioner final : public provisioner {
 public:
  /// Succeeds when the host and login are configured; throws provision_error otherwise.
  void grant(const provision_unit& u) override;
  /// Nothing to remove: certificates end at the grant end by themselves.
  void revoke(const provision_unit& u) override;
  /// Nothing to rotate: each session gets a fresh key and certificate.
  void reset(const provision_unit& u) override;
  /// Checks that every host has a host key and every login a principal.
  void check(const integration_config& integration) override;
};

}  // namespace apono::broker
