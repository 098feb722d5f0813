// The broker's SSH user CA: an Ed25519 key kept in the data dir, and the OpenSSH user
// certificates (PROTOCOL.certkeys, ssh-ed25519-cert-v01@openssh.com) it signs for granted access.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.hpp"

namespace apono::broker::ssh {

/// What one OpenSSH user certificate says.
struct cert_request {
  std::string public_key;               ///< the client's key, "ssh-ed25519 BASE64 [comment]"
  std::uint64_t serial = 0;             ///< certificate serial
  std::string key_id;                   ///< e.g. "AR-00012 alice deploy@web-1"
  std::vector<std::string> principals;  ///< logins the certificate is valid for
  common::time_point valid_after{};     ///< not valid before (seconds precision)
  common::time_point valid_before{};    ///< not valid from this instant on
  std::vector<std::string> extensions;  ///< e.g. "permit-pty" (empty-valued flags)
  std::map<std::string, std::string> critical_options;  ///< e.g. "source-address" -> "127.0.0.1/32"
};

/// The raw 32 bytes of an "ssh-ed25519 BASE64 [comment]" public key line. Throws
/// common::api_error(errc::invalid_argument) with a one-line message for anything else: another
/// key type ("only ssh-ed25519 public keys are accepted, not ssh-rsa"), a certificate, bad base64,
/// a blob whose inner type or length is wrong, an empty string, trailing garbage in the blob.
[[nodiscard]] std::string parse_ed25519_public_key(std::string_view line);
/// The key's fingerprint as `ssh-keygen -l` prints it: "SHA256:<unpadded base64>". Throws as
/// parse_ed25519_public_key does.
[[nodiscard]] std::string fingerprint(std::string_view public_key_line);

/// The broker's Ed25519 user CA.
class user_ca {
 public:
  /// Loads the CA private key from `path` (PKCS#8 PEM) or, when the file is missing, creates one
  /// there (file 0600, parent directory made 0700 with common::ensure_private_dir, written with
  /// common::write_private_file). Throws std::runtime_error naming the path when it exists but
  /// cannot be read or is not an Ed25519 key.
  static user_ca load_or_create(const std::filesystem::path& path);
  /// The public key for TrustedUserCAKeys: "ssh-ed25519 BASE64 apono-user-ca".
  [[nodiscard]] std::string public_key_line() const;
  /// Signs a user certificate; returns "ssh-ed25519-cert-v01@openssh.com BASE64 <key_id>".
  /// Throws api_error(invalid_argument) for a bad public key, no principals, or
  /// valid_before <= valid_after (both truncated to whole seconds), and for control characters
  /// in the key id, a principal, or an option's name or value.
  [[nodiscard]] std::string sign(const cert_request& r) const;

 private:
  struct key_deleter {
    void operator()(EVP_PKEY* key) const noexcept;
  };
  using key_ptr = std::unique_ptr<EVP_PKEY, key_deleter>;

  user_ca(key_ptr key, std::string public_blob);

  key_ptr key_;              // the CA's private key
  std::string public_blob_;  // string "ssh-ed25519", string 32-byte public key
};

}  // namespace apono::broker::ssh
