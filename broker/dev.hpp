// `aponod --dev`: an all-in-one broker for trying things out and for tests. It writes a sample
// config (one admin, one approver, two users, flows over the given PostgreSQL target) and
// dev-credentials.json with each user's token and browser-login password, all 0600 in a
// 0700 data dir.
#pragma once

#include <filesystem>
#include <string>

namespace apono::broker {

/// Settings of dev mode.
struct dev_options {
  std::filesystem::path data_dir;  ///< everything lives here
  std::string listen;              ///< HOST:PORT for the API
  std::string pg_target;           ///< libpq URI of a PostgreSQL the broker administers
  std::string ssh_target{};        ///< HOST:PORT of an sshd trusting the CA; empty: no ssh
  std::string ssh_host_key{};      ///< that sshd's host public key, "ssh-ed25519 AAAA..."
  std::string ssh_login{};         ///< the account granted there (default: root)
  std::filesystem::path extra{};   ///< YAML whose `integrations` and `access_flows` are added,
                                   ///< and whose `notifications` section is taken
  std::string store{};      ///< `postgresql://...` to keep state there; empty: SQLite in data_dir
  std::string token_ttl{};  ///< life of login tokens (`30s`, `12h`); empty: the default
  std::string portal_idle_timeout{};      ///< portal.idle_timeout (`3s`); empty: the default
  std::string portal_session_lifetime{};  ///< portal.session_lifetime; empty: the default
};

/// Writes DIR/aponod.yaml (tokens and passwords are reused from an earlier
/// dev-credentials.json so a restart keeps logins valid) and returns its path.
std::filesystem::path prepare_dev(const dev_options& options);

/// Writes DIR/dev-credentials.json with the API URL, the CA file and each user's token and
/// password.
void write_dev_credentials(const std::filesystem::path& data_dir, const std::string& api_url,
                           const std::filesystem::path& ca_file);

}  // namespace apono::broker
