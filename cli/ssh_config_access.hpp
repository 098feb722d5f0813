// `apono access use ID --ssh-config` and its ProxyCommand `apono access ssh-relay`: scp, sftp,
// rsync, git and editors' remote-SSH reach an SSH grant through a Host block in the user's ssh
// config, and lose it when access ends, like `access connect --client ssh`.
#pragma once

#include <boost/json/value.hpp>

#include <string>
#include <vector>

#include "cli/context.hpp"

namespace apono::cli {

/// For every SSH unit of the request in `details` (its JSON form): a fresh key certified until
/// the grant end, written with the certificate and the broker's known_hosts into
/// ssh_config_home()/ID/ALIAS/ (0700, files 0600), and a Host block ALIAS in apono's ssh config,
/// which the user's ~/.ssh/config includes from its first line. Says on `streams.err` what was
/// written and which commands to try. Throws std::runtime_error when the request holds no SSH
/// access or a file cannot be written.
void write_ssh_config(const global_options& g, const boost::json::value& details, io& streams);

/// The Host alias for `resource` of request `id`: "RESOURCE.ID.apono" in lower case, with
/// characters other than letters, digits, '.', '-' and '_' turned into '-'; `permission` goes
/// first ("PERMISSION.RESOURCE.ID.apono") when given (several units on one resource).
[[nodiscard]] std::string ssh_host_alias(const std::string& id, const std::string& resource,
                                         const std::string& permission = {});

/// Removes request `id`'s Host blocks and its directory of keys, certificates and known_hosts
/// (nothing when there are none).
void remove_ssh_config(const global_options& g, const std::string& id);

/// Removes what write_ssh_config wrote for grants whose end time has passed; never throws
/// (a failure is left for the next run). Cheap when nothing was ever written.
void sweep_ended_ssh_configs(const global_options& g) noexcept;

/// Removes what write_ssh_config wrote for grants not among `active_ids` (revoked, or ended
/// while no relay ran); never throws.
void keep_only_ssh_configs(const global_options& g,
                           const std::vector<std::string>& active_ids) noexcept;

/// Adds the hidden `access ssh-relay` (the Host blocks' ProxyCommand) under `access`.
void setup_ssh_relay(CLI::App& access, global_options& g, io& streams);

}  // namespace apono::cli
