// `apono access connect ID --client ssh`: the user's own OpenSSH client, logged in with the
// session's key and short-lived certificate, trusting only the host key the broker vouched for,
// and stopped when access ends.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "proxy/grant_watch.hpp"

namespace apono::launchers {

/// Where and how to log in with OpenSSH.
struct openssh_options {
  /// Private 0700 directory: key, certificate and known_hosts are written here (0600); made
  /// 0700 if missing.
  std::filesystem::path run_dir;
  std::string host;         ///< server name or address (must not start with '-')
  int port = 22;            ///< server port
  std::string user;         ///< login name (empty: ssh's default; must not start with '-')
  std::string private_key;  ///< OpenSSH private key file content
  std::string certificate;  ///< "ssh-ed25519-cert-v01@openssh.com ..." line
  std::string known_hosts;  ///< known_hosts line(s) for the host
  /// Run this instead of a shell. ssh joins the words with spaces and the remote login shell
  /// parses the result, as with any `ssh host command`.
  std::vector<std::string> command;
  std::vector<std::string> extra_args;  ///< more ssh arguments, before the destination
  proxy::grant_watch* watch = nullptr;  ///< ends the session when access ends
  std::string ssh_binary = "ssh";       ///< program name or path (looked up in PATH)
};

/// The files run_openssh writes into a run dir.
struct openssh_files {
  std::filesystem::path private_key;  ///< RUN_DIR/ssh_key
  std::filesystem::path certificate;  ///< RUN_DIR/ssh_key-cert.pub
  std::filesystem::path known_hosts;  ///< RUN_DIR/known_hosts
};

/// Where run_openssh puts its files in `run_dir`.
[[nodiscard]] openssh_files openssh_file_paths(const std::filesystem::path& run_dir);

/// The exact argv (for instructions and tests):
///   ssh -i KEY -o CertificateFile=CERT -o IdentitiesOnly=yes -o UserKnownHostsFile=KH
///       -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o AddKeysToAgent=no
///       -o ControlMaster=no -o ControlPath=none -p PORT [extra_args...] [USER@]HOST
///       [-- command...]
/// The -o options come first, so they win over anything in the user's ~/.ssh/config: no agent
/// keys, no default identities, no key left in the agent, no shared connection that could
/// outlive the grant or skip the certificate, and never an unknown host key.
/// Throws std::invalid_argument for an empty host, or a host or user that ssh would take for
/// an option.
[[nodiscard]] std::vector<std::string> openssh_argv(const openssh_options& o,
                                                    const openssh_files& files);

/// Writes the files, runs ssh on the user's terminal and waits. Returns ssh's exit status
/// (255 when ssh itself failed, e.g. host key verification), or exit_access_ended (3, from
/// launchers/shell/shell.hpp) when the watch ended first, or its end time passed (the watch
/// is then ended as expired): ssh is stopped (SIGTERM, then SIGKILL after 500 ms), the
/// terminal modes saved before are restored, and the watch's message is printed on stderr.
/// The files are removed before it returns. Throws std::runtime_error when the files cannot
/// be written or ssh cannot be started.
[[nodiscard]] int run_openssh(const openssh_options& o);

}  // namespace apono::launchers
