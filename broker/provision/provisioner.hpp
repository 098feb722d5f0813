// Credentials at the target: one interface per integration type, with a real and a fake.
// The broker chooses the login and secret and stores them before calling grant, so that a
// crash between the two leaves nothing the next attempt cannot find and finish or undo.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "broker/config.hpp"
#include "common/time.hpp"

namespace apono::broker {

/// One access unit as the provisioner sees it.
struct provision_unit {
  const integration_config* integration = nullptr;  ///< where (never null when called)
  std::string request_id;                           ///< AR-00012, for comments and logs
  std::string requester{};                          ///< who asked (names AWS role sessions)
  std::string resource;                             ///< e.g. database name
  std::string permission;                           ///< e.g. `read_only`
  std::string login;                                ///< role name chosen by the broker
  std::string secret;                               ///< password chosen by the broker
  common::time_point valid_until{};                 ///< backstop expiry at the target
};

/// Short-lived credentials a cloud target issues when the user asks for access.
struct issued_credentials {
  std::string key_id;         ///< aws: AccessKeyId; kubernetes: the service account's user name
  std::string secret;         ///< aws: SecretAccessKey; kubernetes: the bearer token
  std::string session_token;  ///< aws: SessionToken; empty otherwise
  common::time_point expires_at{};  ///< when the target stops accepting them
  std::string identity;             ///< how the target names the holder (assumed-role ARN, SA)
};

/// A target-side failure; what() is safe to log and never contains the secret.
class provision_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Creates and removes credentials at one kind of target. Implementations are thread-safe:
/// several scheduler workers call them at once.
class provisioner {
 public:
  virtual ~provisioner() = default;
  /// Makes `u.login` exist with `u.secret` and the permission; idempotent (a retry after a
  /// partial grant completes it). Throws provision_error.
  virtual void grant(const provision_unit& u) = 0;
  /// Removes the login and everything it holds and ends its sessions; idempotent (a login
  /// already gone is success). Throws provision_error.
  virtual void revoke(const provision_unit& u) = 0;
  /// Sets the new `u.secret` on an existing login. Throws provision_error.
  virtual void reset(const provision_unit& u) = 0;
  /// Checks that the broker can administer `integration`. Throws provision_error.
  virtual void check(const integration_config& integration) = 0;
  /// Issues fresh credentials for a granted unit, valid until `until` or as little past it as
  /// the target allows. Only cloud targets issue on access; the others throw provision_error.
  virtual issued_credentials issue(const provision_unit& u, common::time_point until) {
    (void)until;
    throw provision_error("integration '" + u.integration->id + "' does not issue credentials");
  }
};

}  // namespace apono::broker
