// The few STS and IAM calls the broker makes, over the Query API: form-encoded POSTs signed with
// SigV4, XML answers. Errors come back as provision_error naming the call, never a secret.
//
// STS is signed for the configured region. IAM is a global service whose requests are signed
// for the partition's home region: us-east-1, or cn-north-1 and us-gov-west-1 in the others.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "broker/aws/sigv4.hpp"
#include "broker/provision/provisioner.hpp"
#include "common/time.hpp"

namespace apono::broker::aws {

/// Where to call and as whom.
struct api_options {
  std::string sts_endpoint;                  ///< e.g. https://sts.amazonaws.com
  std::string iam_endpoint;                  ///< e.g. https://iam.amazonaws.com
  std::string region;                        ///< STS signing region (IAM's follows from it)
  std::filesystem::path ca_file;             ///< PEM CA for both; empty = system store
  aws::credentials credentials;              ///< the caller's keys
  std::chrono::milliseconds timeout{10000};  ///< per request
};

/// Temporary credentials from AssumeRole.
struct assumed_role {
  aws::credentials credentials;   ///< AccessKeyId, SecretAccessKey, SessionToken
  common::time_point expiration;  ///< when STS stops accepting them
  std::string arn;                ///< AssumedRoleUser/Arn: arn:aws:sts::ACCOUNT:assumed-role/R/S
  std::string assumed_role_id;    ///< AssumedRoleUser/AssumedRoleId: AROA...:SESSION
};

/// What GetCallerIdentity says about the caller.
struct caller_identity {
  std::string account;  ///< 12-digit account id
  std::string arn;      ///< user, root or assumed-role ARN
  std::string user_id;  ///< AIDA... or AROA...:SESSION
};

/// A failed call: what() reads `STS AssumeRole arn:...: AccessDenied: <message>`.
class api_error : public provision_error {
 public:
  /// `code` is the service's error code, empty for transport failures; `status` 0 for those.
  api_error(const std::string& message, std::string code, int status)
      : provision_error(message), code_(std::move(code)), status_(status) {}
  /// The service's error code (`AccessDenied`, `NoSuchEntity`, ...), empty for network errors.
  [[nodiscard]] const std::string& code() const { return code_; }
  /// The HTTP status, 0 when no answer came.
  [[nodiscard]] int status() const { return status_; }

 private:
  std::string code_;
  int status_;
};

/// One caller's session with STS and IAM. Not thread-safe: make one per operation (each holds
/// its own connections, opened on first use).
class aws_api {
 public:
  /// Keeps `options`; `clock` dates the signatures and must outlive this object.
  aws_api(api_options options, const common::clock& clock);
  ~aws_api();
  aws_api(const aws_api&) = delete;
  aws_api& operator=(const aws_api&) = delete;

  /// STS AssumeRole. Throws api_error.
  [[nodiscard]] assumed_role assume_role(const std::string& role_arn,
                                         const std::string& session_name,
                                         std::chrono::seconds duration);
  /// STS GetCallerIdentity. Throws api_error.
  [[nodiscard]] caller_identity get_caller_identity();
  /// IAM GetRolePolicy: the inline policy's JSON, or nullopt when the role has none of that
  /// name (NoSuchEntity). Throws api_error.
  [[nodiscard]] std::optional<std::string> get_role_policy(const std::string& role_name,
                                                           const std::string& policy_name);
  /// IAM PutRolePolicy: creates or replaces the inline policy. Throws api_error.
  void put_role_policy(const std::string& role_name, const std::string& policy_name,
                       const std::string& document);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace apono::broker::aws
