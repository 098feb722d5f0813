// What `access connect` and `access use` do for an SSH grant: pick the host and login, make a
// fresh key for this session, have the broker certify it until the grant end, and open the
// session (built-in libssh client or the user's ssh) that ends when access ends.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "cli/context.hpp"
#include "common/model.hpp"

namespace apono::launchers {
struct ssh_keypair;
}  // namespace apono::launchers

namespace apono::cli {

class api_client;

/// Which SSH unit and what to run.
struct ssh_connect_options {
  std::string host;                  ///< --host: the resource; empty when the grant has one
  std::string login;                 ///< --login: the permission; empty when unambiguous
  std::string client = "builtin";    ///< builtin or ssh
  std::vector<std::string> command;  ///< after `--`: one command instead of a shell
};

/// True when `d` holds an SSH unit.
[[nodiscard]] bool has_ssh_unit(const common::access_details& d);

/// The SSH unit of `d` that `host` (its resource) and `login` (its permission or login name)
/// pick; either may be empty when that leaves one. Throws usage_error naming the choices, or
/// std::runtime_error when `d` holds no SSH unit.
[[nodiscard]] const common::unit_credentials& choose_ssh_unit(const common::access_details& d,
                                                              const std::string& host,
                                                              const std::string& login);

/// Has the broker certify `key` for `unit` of `d` until the grant end.
[[nodiscard]] common::ssh_certificate issue_ssh_certificate(api_client& api,
                                                            const common::access_details& d,
                                                            const common::unit_credentials& unit,
                                                            const launchers::ssh_keypair& key);

/// Opens the session for the fetched details `d`; returns the remote exit status, or 3 when
/// access ended first. Throws with a one-line message for a bad choice of host or login, a
/// refused certificate request, or a failed connection.
[[nodiscard]] int connect_ssh(const global_options& g, const common::access_details& d,
                              const ssh_connect_options& o);

/// The key, certificate and known_hosts for `access use`: written to a private directory that
/// lasts for the grant (0700, files 0600); returns the ssh command and what the certificate says.
struct ssh_instructions {
  common::ssh_certificate certificate;  ///< as issued
  std::vector<std::string> argv;        ///< the ready ssh command
  std::filesystem::path dir;            ///< where the files are
};

/// Issues a certificate for `unit` of `d` and writes the files for `access use`.
[[nodiscard]] ssh_instructions prepare_ssh_instructions(const global_options& g,
                                                        const common::access_details& d,
                                                        const common::unit_credentials& unit);

}  // namespace apono::cli
