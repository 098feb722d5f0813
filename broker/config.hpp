// The broker's YAML configuration: users, groups, integrations, access flows, bundles and
// notifications.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "broker/notify/notify_config.hpp"

namespace apono::broker {

/// A person who can call the API.
struct user_config {
  std::string name;                       ///< unique login name
  std::string email;                      ///< optional, informational
  std::vector<std::string> token_hashes;  ///< SHA-256 hex of each accepted bearer token
  bool admin = false;                     ///< sees everything, may revoke anything, reads audit
  /// For browser login: `pbkdf2-sha256$<iterations>$<salt>$<hash>` (common::hash_password);
  /// empty when the user cannot log in with a password. (The `{}` keeps brace initializers
  /// that stop at `admin` free of -Wmissing-field-initializers.)
  std::string password_hash{};
};

/// A named set of users.
struct group_config {
  std::string name;                  ///< unique group name
  std::vector<std::string> members;  ///< user names
};

/// One permission of an integration: a name and, for postgresql, the SQL run at grant; for
/// ssh, the login it grants.
struct permission_config {
  std::string name;  ///< e.g. `read_only`, or for ssh the login name by default
  std::vector<std::string>
      grants{};             ///< SQL templates; `{role}` and `{database}` are quoted identifiers
  std::string login{};      ///< ssh: the account on the host (default: the name)
  std::string principal{};  ///< ssh: the certificate principal (default: the login)
  std::vector<std::string> extensions{};  ///< ssh: certificate extensions, e.g. permit-pty
  std::string role_arn{};  ///< aws: the role to assume; `{account}` is the resource's account id
  std::chrono::seconds max_session{3600};  ///< aws: the role's MaxSessionDuration (900 s..12 h)
  std::string cluster_role{};              ///< kubernetes: the ClusterRole bound in the namespace
};

/// A resource of an integration (for postgresql: a database; for ssh: a host).
struct resource_config {
  std::string name;                      ///< e.g. the database name or the host's name
  std::string address{};                 ///< ssh: where clients connect (default: the name)
  int port = 22;                         ///< ssh: where clients connect
  std::vector<std::string> host_keys{};  ///< ssh: "TYPE BASE64" keys the host must present
};

/// A target system the broker grants access to.
struct integration_config {
  std::string id;                  ///< stable id used in requests, e.g. `pg-local`
  std::string name;                ///< display name
  std::string type;                ///< `postgresql`, `ssh`, `aws` or `kubernetes`
  std::string resource_type;       ///< `database`, `host`, `account` or `namespace`
  std::string admin_url;           ///< postgresql: connection URI to provision with (secret)
  std::string host;                ///< what clients connect to
  int port = 5432;                 ///< what clients connect to
  std::string sslmode = "prefer";  ///< what clients should use
  std::string ssl_root_cert;       ///< PEM of the CA that signs the server certificate (verify-*)
  std::vector<resource_config> resources;      ///< databases, hosts, accounts or namespaces
  std::vector<permission_config> permissions;  ///< permission name -> SQL, login or role
  std::string endpoint{};           ///< aws: the STS endpoint; kubernetes: the API server URL
  std::string iam_endpoint{};       ///< aws: the IAM endpoint (revocation policies)
  std::string region{};             ///< aws: signing region and the profile's region
  std::filesystem::path ca_file{};  ///< aws, kubernetes: PEM CA for the endpoint (empty: system)
  std::string access_key_id{};      ///< aws: the broker's own key (secret)
  std::string secret_access_key{};  ///< aws: the broker's own secret key (secret)
  std::string session_token{};      ///< aws: with temporary broker credentials (secret)
  std::string token{};              ///< kubernetes: the broker's bearer token (secret)
  std::string audience{};           ///< kubernetes: TokenRequest audience (empty: the API's)

  /// The resource named `name`, or null.
  [[nodiscard]] const resource_config* find_resource(std::string_view name) const;
  /// The permission named `name`, or null.
  [[nodiscard]] const permission_config* find_permission(std::string_view name) const;
};

/// Who a flow applies to, or who approves it.
struct principals {
  std::vector<std::string> users;   ///< user names
  std::vector<std::string> groups;  ///< group names
};

/// What a flow lets one request: an integration's resources (glob patterns) and permissions.
struct flow_target {
  std::string integration;               ///< integration id
  std::vector<std::string> resources;    ///< glob patterns (`*`, `?`), `*` means all
  std::vector<std::string> permissions;  ///< permission names, `*` means all
};

/// An access flow: who may request what, and how it is approved.
struct access_flow_config {
  std::string name;                             ///< unique flow name
  principals requestors;                        ///< who may request
  std::vector<flow_target> targets;             ///< what they may request
  bool automatic = true;                        ///< approval `automatic` (true) or `manual`
  principals approvers;                         ///< for manual flows
  std::chrono::seconds max_duration{8 * 3600};  ///< longest grant allowed
  std::chrono::seconds default_duration{3600};  ///< used when the request names none
  bool justification_required = true;           ///< empty justification refused
};

/// One element of a bundle.
struct bundle_target {
  std::string integration;               ///< integration id
  std::vector<std::string> resources;    ///< resource names
  std::vector<std::string> permissions;  ///< permission names
};

/// A named set of targets requested together.
struct bundle_config {
  std::string name;                    ///< unique bundle name
  std::vector<bundle_target> targets;  ///< what it grants
};

/// Server settings.
struct server_config {
  std::string listen = "127.0.0.1:8443";  ///< HOST:PORT
  std::filesystem::path data_dir;         ///< store, CA and certificates live here; absolute
  std::filesystem::path tls_cert;         ///< PEM chain; relative paths are under data_dir
  std::filesystem::path tls_key;          ///< PEM key; relative paths are under data_dir
  std::string log_level = "info";         ///< trace|debug|info|warn|error
  int provision_workers = 4;              ///< parallel provisioning/revocation workers
  std::chrono::seconds token_ttl{std::chrono::hours{24 * 30}};  ///< life of a login's API token
};

/// The web portal's browser sessions.
struct portal_config {
  std::chrono::seconds idle_timeout{std::chrono::minutes{30}};    ///< unused this long: signed out
  std::chrono::seconds session_lifetime{std::chrono::hours{12}};  ///< signed out this long after
                                                                  ///< sign-in, however busy
};

/// Where the broker keeps its state.
struct store_config {
  std::string type = "sqlite";  ///< `sqlite` (one broker) or `postgresql` (any number of replicas)
  std::filesystem::path path;   ///< sqlite: the database file; default data_dir/apono.db
  std::string url;              ///< postgresql: libpq connection string (URI or key=value); secret
  int pool_size = 8;            ///< postgresql: connections each aponod keeps for transactions
  std::filesystem::path key_file;  ///< keys for secrets at rest (0600); empty: see load_store_keys
};

/// The whole configuration, immutable once loaded; SIGHUP swaps in a new one.
struct config {
  std::filesystem::path path;  ///< the file it came from
  server_config server;
  store_config store;
  portal_config portal;
  std::vector<user_config> users;
  std::vector<group_config> groups;
  std::vector<integration_config> integrations;
  std::vector<access_flow_config> flows;
  std::vector<bundle_config> bundles;
  notify::notifications_config notifications;  ///< webhooks and how deliveries are retried

  /// The integration with `id`, or null.
  [[nodiscard]] const integration_config* find_integration(std::string_view id) const;
  /// The user named `name`, or null.
  [[nodiscard]] const user_config* find_user(std::string_view name) const;
  /// The flow named `name`, or null.
  [[nodiscard]] const access_flow_config* find_flow(std::string_view name) const;
  /// The bundle named `name`, or null.
  [[nodiscard]] const bundle_config* find_bundle(std::string_view name) const;
  /// True when `user` is listed directly or through one of the groups.
  [[nodiscard]] bool matches(const principals& p, std::string_view user) const;
};

/// A config file that cannot be used; what() reads `FILE:LINE: what is wrong`.
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Loads and validates `path`; throws config_error naming the file and line.
[[nodiscard]] std::shared_ptr<const config> load_config(const std::filesystem::path& path);
/// Parses YAML text as if read from `path` (for tests and dev mode); throws config_error.
[[nodiscard]] std::shared_ptr<const config> parse_config(const std::string& yaml,
                                                         const std::filesystem::path& path);

/// The certificate extensions an ssh permission gets unless it lists its own.
[[nodiscard]] std::vector<std::string> default_ssh_extensions();
/// The extensions OpenSSH knows; others are refused at load time.
[[nodiscard]] bool is_ssh_extension(std::string_view name);

/// The permission templates used when an integration lists permissions by name only.
[[nodiscard]] std::vector<std::string> default_postgres_grants(std::string_view permission);

}  // namespace apono::broker
