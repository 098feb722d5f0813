// Session keys for the built-in SSH client: one fresh Ed25519 key pair per session, made with
// libssh and kept in memory; the broker signs its public half into a short-lived certificate.
#pragma once

#include <string>

namespace apono::launchers {

/// A fresh Ed25519 key pair made for one session (never written anywhere by this function).
struct ssh_keypair {
  std::string
      private_key;  ///< OpenSSH private key file content ("-----BEGIN OPENSSH PRIVATE KEY-----")
  std::string public_key;  ///< "ssh-ed25519 BASE64 comment" (no comment part when it is empty)
};

/// Generates one (libssh ssh_pki_generate + export); throws std::runtime_error.
[[nodiscard]] ssh_keypair generate_ssh_keypair(const std::string& comment);

/// Initialises libssh once per process (thread-safe); throws std::runtime_error if it cannot.
void init_libssh();

}  // namespace apono::launchers
