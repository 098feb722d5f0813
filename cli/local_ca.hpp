// The CLI's local CA for TLS on `apono access proxy`'s TCP port: one CA per user, kept in
// the config dir and made once, so `sslmode=verify-full sslrootcert=<its path>` keeps working
// across proxies; each proxy start gets a fresh short-lived leaf for the loopback names.
#pragma once

#include <filesystem>
#include <string>

#include "common/time.hpp"

namespace apono::cli {

/// A leaf certificate for one proxy, and where the root that signed it is.
struct local_tls_identity {
  std::filesystem::path root_cert;  ///< the CA certificate clients pass as sslrootcert
  std::string cert_chain_pem;       ///< the leaf, then the CA
  std::string key_pem;              ///< the leaf's private key (kept in memory only)
};

/// Makes sure `dir` (0700) holds local-ca.pem and local-ca-key.pem (0600), creating them
/// once, under a lock so concurrent first runs agree; then issues a leaf for 127.0.0.1, ::1
/// and localhost, valid from an hour ago until `until` plus five minutes (at least ten
/// minutes, at most 30 days). A CA certificate whose key is missing or does not match is an
/// error, never silently replaced. Throws std::runtime_error.
[[nodiscard]] local_tls_identity issue_local_tls(const std::filesystem::path& dir,
                                                 common::time_point until);

}  // namespace apono::cli
