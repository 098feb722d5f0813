// A small Kubernetes API server for tests: ServiceAccounts, RoleBindings, TokenRequest, pod
// listing under RBAC and enough discovery for the real kubectl, over TLS on 127.0.0.1, with
// the real API's Status objects for every error. Stopped in the destructor, which runs also
// when a test fails.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/time.hpp"

namespace apono::test {

/// What the fixture's cluster holds besides what tests create through the API.
struct kube_fixture_options {
  /// ClusterRole name -> whether it allows listing pods (`view` does, `nothing` does not).
  std::map<std::string, bool> cluster_roles{{"view", true}, {"edit", true}, {"nothing", false}};
  /// Namespace -> the pods in it; other namespaces do not exist.
  std::map<std::string, std::vector<std::string>> namespaces{{"team-a", {"web-0", "web-1", "db-0"}},
                                                             {"team-b", {"batch-0"}}};
  /// The audiences the API server accepts in tokens; the first is what TokenRequest puts in a
  /// token when the request names none.
  std::vector<std::string> api_audiences{"https://kubernetes.default.svc.cluster.local"};
};

/// An HTTPS server on 127.0.0.1 that plays a Kubernetes API server for the calls apono and
/// `kubectl get pods` make. Anonymous requests are refused (as with --anonymous-auth=false).
class kube_fixture {
 public:
  /// Which credential a request carried, as the fixture judged it.
  enum class token_kind {
    none,             ///< no Authorization header
    admin,            ///< the broker's token: allowed everything
    service_account,  ///< a TokenRequest token whose account still exists, not expired
    rejected,         ///< unknown, expired, wrong audience, or its account deleted/recreated
  };

  /// One request as the server saw it.
  struct recorded_request {
    std::string method;                   ///< GET, POST, ...
    std::string path;                     ///< without the query
    std::string query;                    ///< after `?`, empty when none
    token_kind token = token_kind::none;  ///< how the bearer token was judged
    std::string user;    ///< `system:serviceaccount:NS:NAME` for service account tokens
    std::string accept;  ///< the Accept header
    int status = 0;      ///< what the fixture answered
  };

  /// A ServiceAccount present in the cluster.
  struct service_account {
    std::string ns;                                  ///< namespace
    std::string name;                                ///< name
    std::string uid;                                 ///< assigned at creation, new each time
    std::map<std::string, std::string> labels;       ///< metadata.labels
    std::map<std::string, std::string> annotations;  ///< metadata.annotations
  };

  /// One subject of a RoleBinding.
  struct subject {
    std::string kind;  ///< ServiceAccount, User or Group
    std::string name;  ///< name
    std::string ns;    ///< namespace (service accounts)
  };

  /// A RoleBinding present in the cluster.
  struct role_binding {
    std::string ns;                             ///< namespace
    std::string name;                           ///< name
    std::string uid;                            ///< assigned at creation
    std::map<std::string, std::string> labels;  ///< metadata.labels
    std::string role_kind;                      ///< roleRef.kind
    std::string role_name;                      ///< roleRef.name
    std::vector<subject> subjects;              ///< subjects
  };

  /// A token the fixture issued through TokenRequest.
  struct issued_token {
    std::string ns;                      ///< the service account's namespace
    std::string name;                    ///< the service account's name
    std::string uid;                     ///< the service account's uid when issued
    std::int64_t expiration_seconds{};   ///< spec.expirationSeconds as granted
    std::vector<std::string> audiences;  ///< spec.audiences as granted
    common::time_point expires_at{};     ///< status.expirationTimestamp
  };

  /// Starts with the default options.
  kube_fixture();
  /// Starts the server on a free port with a fresh CA; throws std::runtime_error on failure.
  explicit kube_fixture(kube_fixture_options options);
  /// Stops the server and its thread and deletes the CA.
  ~kube_fixture();
  kube_fixture(const kube_fixture&) = delete;
  kube_fixture& operator=(const kube_fixture&) = delete;

  /// `https://127.0.0.1:PORT`.
  [[nodiscard]] std::string url() const;
  /// The CA that signed the server certificate (PEM).
  [[nodiscard]] std::filesystem::path ca_file() const;
  /// The broker's token: allowed every call.
  [[nodiscard]] std::string admin_token() const;
  /// The ServiceAccounts present now.
  [[nodiscard]] std::vector<service_account> service_accounts() const;
  /// The ServiceAccount `ns/name`, if present.
  [[nodiscard]] std::optional<service_account> find_service_account(const std::string& ns,
                                                                    const std::string& name) const;
  /// The RoleBindings present now.
  [[nodiscard]] std::vector<role_binding> role_bindings() const;
  /// The RoleBinding `ns/name`, if present.
  [[nodiscard]] std::optional<role_binding> find_role_binding(const std::string& ns,
                                                              const std::string& name) const;
  /// Every token issued so far, oldest first.
  [[nodiscard]] std::vector<issued_token> issued_tokens() const;
  /// Every request so far, oldest first.
  [[nodiscard]] std::vector<recorded_request> requests() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace apono::test
