// A local stand-in for AWS STS and IAM over HTTPS on 127.0.0.1, for tests: it checks the SigV4
// signature of every request as AWS does (long-term and temporary keys, session tokens, clock
// skew), answers AssumeRole, GetCallerIdentity, GetRolePolicy and PutRolePolicy with the real
// services' XML, records every call, and enforces apono's revocation statements on temporary
// credentials. The server runs on its own thread and stops in the destructor, also when a test
// fails.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/secrets.hpp"
#include "common/time.hpp"

namespace apono::test {

/// Who the fixture's account is and which long-term key the broker holds.
struct aws_fixture_options {
  std::string account_id = "123456789012";             ///< the account
  std::string access_key_id = "AKIAAPONOFIXTURE0001";  ///< broker's key id
  /// Its secret: new for every fixture, so that a test searching files for it (the secrets
  /// scan) never finds another test's copy of it in the shared temp dir.
  std::string secret_access_key = "fixture/" + common::random_password(32) + "+Key";
  std::string region = "us-east-1";  ///< the only region requests may be scoped to
};

/// One request as the fixture saw it, accepted or not.
struct aws_call {
  std::string service;           ///< `sts` or `iam` (from the credential scope), empty if unsigned
  std::string action;            ///< the Action parameter
  std::string access_key_id;     ///< the key that signed it
  bool temporary = false;        ///< signed with credentials an AssumeRole of the fixture issued
  std::string issued_by;         ///< for temporary keys: the assumed-role ARN they belong to
  bool signature_valid = false;  ///< the SigV4 check passed
  int status = 0;                ///< HTTP status of the answer
  std::string error_code;        ///< the answer's error code, empty on success
  std::string role_arn;          ///< AssumeRole: RoleArn
  std::string session_name;      ///< AssumeRole: RoleSessionName
  int duration_seconds = 0;      ///< AssumeRole: DurationSeconds (0 when absent)
  std::string issued_key_id;     ///< AssumeRole: the AccessKeyId it handed out
  std::string role_name;         ///< Get/PutRolePolicy: RoleName
  std::string policy_name;       ///< Get/PutRolePolicy: PolicyName
  common::time_point at{};       ///< when it arrived
};

/// A running STS + IAM stand-in.
class aws_fixture {
 public:
  /// Creates a CA and certificate for 127.0.0.1 in a temp dir and starts serving; throws
  /// std::runtime_error when it cannot.
  explicit aws_fixture(aws_fixture_options options = {});
  ~aws_fixture();
  aws_fixture(const aws_fixture&) = delete;
  aws_fixture& operator=(const aws_fixture&) = delete;

  /// `https://127.0.0.1:PORT`, both the STS and the IAM endpoint.
  [[nodiscard]] std::string url() const;
  /// PEM of the CA that signed the server certificate.
  [[nodiscard]] std::filesystem::path ca_file() const;
  /// The account and the broker's key.
  [[nodiscard]] const aws_fixture_options& options() const;

  /// Adds a role `arn:aws:iam::ACCOUNT:role/NAME`; AssumeRole on it succeeds only when
  /// `trusted` (otherwise AccessDenied, as when the trust policy leaves the caller out).
  void add_role(const std::string& arn, bool trusted = true,
                std::chrono::seconds max_session = std::chrono::seconds{3600});
  /// Removes a role, as if it were deleted in IAM.
  void remove_role(const std::string& arn);
  /// The inline policy `policy_name` of role `role_name` as last put, or nullopt.
  [[nodiscard]] std::optional<std::string> role_policy(const std::string& role_name,
                                                       const std::string& policy_name) const;
  /// Sets an inline policy directly, as another administrator would.
  void set_role_policy(const std::string& role_name, const std::string& policy_name,
                       const std::string& document);
  /// Every request so far, oldest first.
  [[nodiscard]] std::vector<aws_call> calls() const;
  /// The calls whose action is `action`.
  [[nodiscard]] std::vector<aws_call> calls(const std::string& action) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace apono::test
