// `apono access connect ID` for SSH targets with no ssh installed: the built-in client on
// libssh. It trusts only the host key the broker vouched for, logs in with the session key and
// its short-lived certificate, runs a shell (with a PTY on a terminal) or one command, and cuts
// the session when access ends.
#pragma once

#include <string>
#include <vector>

#include "proxy/grant_watch.hpp"

namespace apono::launchers {

/// Where and how to log in.
struct ssh_options {
  std::string host;         ///< server name or address
  int port = 22;            ///< server port
  std::string user;         ///< login name
  std::string private_key;  ///< OpenSSH private key content (from generate_ssh_keypair)
  std::string certificate;  ///< "ssh-ed25519-cert-v01@openssh.com BASE64 ..." signed for that key
  /// known_hosts line(s) for the host: "[host]:port TYPE BASE64" or "host TYPE BASE64"; lines
  /// for other hosts, comments, hashed names and @cert-authority lines are ignored, and a key on
  /// a @revoked line is refused.
  std::string known_hosts;
  /// Empty: an interactive shell; else run this one command (words joined with spaces, like
  /// ssh; the remote login shell parses the result).
  std::vector<std::string> command;
  /// Ends the session when access ends (may be null); the caller runs the grant_clock and
  /// revoke_watch that end it.
  proxy::grant_watch* watch = nullptr;
  int in = 0;   ///< terminal or stdin: a PTY and raw mode for a shell when it is a tty
  int out = 1;  ///< the remote stdout
  int err = 2;  ///< the remote stderr, and the end-of-access message
};

/// Connects, checks the host key, logs in with the certificate and runs the session.
/// Returns the remote exit status (exec mode or the shell's), 255 for a session that ended
/// without one, or exit_access_ended (3) when the watch ended first: then the channel and
/// session are closed, the terminal restored, and "\r\n" + watch->message() + "\r\n" written to
/// `err`. SIGHUP, SIGTERM, SIGINT and SIGQUIT (not ignored before; in raw mode the keyboard
/// sends Ctrl-C to the remote side instead) end the session the same way, without a message,
/// and are raised again once the previous dispositions are back; 255 if that returns.
/// Throws std::runtime_error with one clear line for connect, host key and authentication
/// failures, e.g. "host key for 127.0.0.1:2222 does not match the one the broker gave
/// (got ssh-ed25519 SHA256:...)", "127.0.0.1:2222 refused the certificate for login root".
[[nodiscard]] int run_ssh(const ssh_options& o);

}  // namespace apono::launchers
