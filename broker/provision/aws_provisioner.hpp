// AWS provisioner: a grant is the right to assume an existing IAM role. The broker assumes the
// role for the user on each access (STS AssumeRole, as short as the grant allows), and revokes at
// the source by denying the grant's role sessions issued before the revoke, in an inline policy
// on the role, so credentials already handed out stop working before they expire.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "broker/provision/provisioner.hpp"
#include "common/time.hpp"

namespace apono::broker {

/// Issues role credentials with STS and revokes them with an IAM deny policy; thread-safe.
class aws_provisioner final : public provisioner {
 public:
  /// The inline policy on each role that holds the revocations.
  static constexpr std::string_view revoked_policy_name = "apono-revoked-sessions";
  /// Dates signatures, DurationSeconds and revocations; must outlive this object.
  explicit aws_provisioner(const common::clock& clock);
  ~aws_provisioner() override;
  /// Proves the broker can assume the unit's role (one 900 s AssumeRole whose credentials are
  /// dropped), so a grant that could never be used fails now instead of at first access.
  void grant(const provision_unit& u) override;
  /// Denies the role's sessions named `u.login` that were issued before now.
  void revoke(const provision_unit& u) override;
  /// The same as revoke: old credentials die, new ones are issued at the next access.
  void reset(const provision_unit& u) override;
  /// Checks endpoints, region, keys, account ids and role ARNs; makes no network call.
  void check(const integration_config& integration) override;
  /// AssumeRole as `u.login` for the time left until `until` (at least STS's 900 s, at most the
  /// permission's max_session); the identity is the assumed-role ARN.
  issued_credentials issue(const provision_unit& u, common::time_point until) override;

  /// The role session name for a grant: `apono-AR-00012-alice`, with characters STS refuses
  /// replaced by `-` and cut to STS's 64; CloudTrail shows it on every call the user makes.
  [[nodiscard]] static std::string session_name(std::string_view request_id,
                                                std::string_view requester);
  /// The role ARN a unit assumes: the permission's role_arn with `{account}` replaced by the
  /// resource (account id). Throws provision_error when either is not configured or the result
  /// is not `arn:aws:iam::<12 digits>:role/<name>`.
  [[nodiscard]] static std::string role_arn(const provision_unit& u);

 private:
  // Writes the unit's deny statement; returns the instant it denies sessions issued before.
  common::time_point deny_sessions_before_now(const provision_unit& u, const char* why);
  std::shared_ptr<std::mutex> role_lock(const std::string& arn);

  const common::clock& clock_;
  std::mutex locks_mu_;
  std::map<std::string, std::shared_ptr<std::mutex>> role_locks_;  // by role ARN
};

}  // namespace apono::broker
