// X.509 building blocks on OpenSSL 3: ECDSA P-256 keys, a CA, server certificates for DNS
// names and IP addresses, PEM in and out. The broker's TLS and the CLI's local CA share them.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace apono::common::x509 {

/// Frees an OpenSSL object with `Fn`.
template <auto Fn>
struct deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Fn(p);
  }
};

using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY_free>>;  ///< an owned key
using x509_ptr = std::unique_ptr<X509, deleter<X509_free>>;          ///< an owned certificate

/// Certificates are backdated this much (seconds), for small clock differences.
inline constexpr long backdate = 60L * 60;

/// A new ECDSA P-256 key; throws std::runtime_error.
[[nodiscard]] pkey_ptr generate_key();
/// `key` as PEM (unencrypted PKCS#8).
[[nodiscard]] std::string key_pem(EVP_PKEY* key);
/// `cert` as PEM.
[[nodiscard]] std::string cert_pem(X509* cert);
/// Parses a PEM private key; throws std::runtime_error naming `what`.
[[nodiscard]] pkey_ptr parse_key(const std::string& pem, std::string_view what);
/// Parses a PEM certificate; throws std::runtime_error naming `what`.
[[nodiscard]] x509_ptr parse_cert(const std::string& pem, std::string_view what);
/// True when `host` is an IPv4 or IPv6 literal.
[[nodiscard]] bool is_ip_literal(const std::string& host);
/// A self-signed CA certificate for `key`, named `common_name`, valid `lifetime` seconds.
[[nodiscard]] x509_ptr make_ca(EVP_PKEY* key, const std::string& common_name, long lifetime);
/// A server certificate for `key` naming `hosts` (DNS names or IP literals; the first is also
/// the CN), signed by `ca`/`ca_key`, valid `lifetime` seconds.
[[nodiscard]] x509_ptr make_server_cert(EVP_PKEY* key, X509* ca, EVP_PKEY* ca_key,
                                        const std::vector<std::string>& hosts, long lifetime);
/// True when `cert` names `host` (an IP literal or a DNS name).
[[nodiscard]] bool covers(X509* cert, const std::string& host);

}  // namespace apono::common::x509
