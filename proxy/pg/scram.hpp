// Client side of upstream password authentication: SCRAM-SHA-256 (RFC 5802/7677, as
// PostgreSQL speaks it: no channel binding, empty username in the messages) and MD5.
// Pure: strings in, strings out. The salted-password derivation (PBKDF2, 4096 rounds by
// default) is cached per (password, salt, iterations) so a proxy opening many connections
// with the same short-lived credentials pays it once, as pgbouncer does. The password is used
// as is, without libpq's SASLprep: identical for ASCII passwords, which are all the broker issues.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace apono::proxy::pg {

/// One SCRAM-SHA-256 exchange. Use: client_first() -> send in SASLInitialResponse;
/// client_final(server_first) -> send in SASLResponse; verify_server_final(server_final).
class scram_client {
 public:
  /// Prepares an exchange for `password` with a fresh random nonce; throws
  /// std::runtime_error if the CSPRNG fails.
  explicit scram_client(std::string password);
  /// Same with a given nonce and user name (tests: RFC 7677's example uses `user`;
  /// PostgreSQL ignores the name and libpq sends it empty).
  scram_client(std::string password, std::string nonce, std::string username = {});

  /// The client-first message: `n,,n=<username>,r=<nonce>`.
  [[nodiscard]] std::string client_first() const;
  /// The client-final message for the server-first message, or nullopt when the server's
  /// message is malformed, its nonce does not extend ours, or its iteration count is absurd
  /// (under 1 or over 1,000,000). `error` then says why in one line.
  [[nodiscard]] std::optional<std::string> client_final(std::string_view server_first,
                                                        std::string& error);
  /// True when the server-final message carries the expected server signature.
  [[nodiscard]] bool verify_server_final(std::string_view server_final) const;

 private:
  std::string password_;
  std::string nonce_;
  std::string username_;
  std::string client_first_bare_;
  std::string expected_server_signature_;  // base64
};

/// The MD5 password response: "md5" + md5hex(md5hex(password + user) + salt); "" when the
/// OpenSSL provider offers no MD5 (FIPS mode).
[[nodiscard]] std::string md5_password(std::string_view user, std::string_view password,
                                       const std::uint8_t salt[4]);

}  // namespace apono::proxy::pg
