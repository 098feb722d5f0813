// The broker's own TLS: a CA created in the data dir on first start, and a server
// certificate it signs for the names the broker listens on.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace apono::broker {

/// Paths of the TLS material in a data dir.
struct tls_files {
  std::filesystem::path ca_cert;      ///< ca.pem: public, handed to clients
  std::filesystem::path ca_key;       ///< ca-key.pem: 0600
  std::filesystem::path server_cert;  ///< server.pem: public
  std::filesystem::path server_key;   ///< server-key.pem: 0600
};

/// Makes sure a CA and a server certificate exist under `data_dir` (0700); creates what is
/// missing (ECDSA P-256, CA valid 10 years, server 1 year, SANs from `hosts` which may be DNS
/// names or IP literals, IPv6 with or without brackets; none means `localhost`). An existing
/// CA is reused (a CA certificate without its key is an error, never silently replaced); an
/// existing server certificate is reused unless it lacks one of `hosts` or expires within 30 days.
/// Throws std::runtime_error.
tls_files ensure_tls(const std::filesystem::path& data_dir, const std::vector<std::string>& hosts);

}  // namespace apono::broker
