// A throwaway OpenSSH server for tests and the demo: its own config, host key and port in a temp
// dir, user certificates from one CA only, stopped together with every session it started in
// the destructor, which runs also when a test fails.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace apono::test {

/// A running OpenSSH sshd on 127.0.0.1 for tests and the demo: own config, own Ed25519 host key,
/// a free port, certificates from `trusted_ca` only, principals per login from files it writes.
class sshd_fixture {
 public:
  /// What the server trusts.
  struct options {
    std::string trusted_ca;  ///< "ssh-ed25519 AAAA..." line(s) for TrustedUserCAKeys
    /// login -> accepted principals (AuthorizedPrincipalsFile); a login not listed gets none.
    std::map<std::string, std::vector<std::string>> principals;
    std::string revoked_keys;  ///< initial content of the RevokedKeys file (may be empty)
  };

  /// Starts sshd; throws std::runtime_error with sshd -t / log output on failure.
  explicit sshd_fixture(options o);
  /// Stops sshd and every process of its sessions, also commands whose connection is gone
  /// (which OpenSSH leaves running), even when a test failed; deletes the temp dir.
  ~sshd_fixture();
  sshd_fixture(const sshd_fixture&) = delete;
  sshd_fixture& operator=(const sshd_fixture&) = delete;

  /// The TCP port on 127.0.0.1.
  [[nodiscard]] int port() const { return port_; }
  /// "ssh-ed25519 AAAA..." (the host public key, no comment).
  [[nodiscard]] std::string host_key() const { return host_key_; }
  /// "[127.0.0.1]:PORT ssh-ed25519 AAAA...".
  [[nodiscard]] std::string known_hosts_line() const;
  /// The RevokedKeys file (tests may rewrite it; sshd reads it on every authentication).
  [[nodiscard]] std::filesystem::path revoked_keys_file() const;
  /// Replaces the TrustedUserCAKeys file (sshd reads it at every authentication), for a CA
  /// that exists only once the broker has started.
  void set_trusted_ca(const std::string& keys);
  /// sshd's log so far (-E file, LogLevel VERBOSE).
  [[nodiscard]] std::string log() const;
  /// The login tests use: the user running the tests (root in CI).
  [[nodiscard]] static std::string current_user();

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  std::string host_key_;
  std::unique_ptr<child_process> sshd_;
};

}  // namespace apono::test
