// Creates and reuses the broker's local CA and server certificate with OpenSSL 3.
// Everything is ECDSA P-256 / SHA-256; keys go to 0600 files, certificates to 0644 ones.
#include "broker/tls/certificates.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <ctime>
#include <fstream>
#include <stdexcept>
#include <string_view>

#include "common/secrets.hpp"
#include "common/x509.hpp"

namespace apono::broker {
namespace {

namespace x509 = common::x509;
using x509::pkey_ptr;
using x509::x509_ptr;

constexpr long hour = 60L * 60;
constexpr long day = 24 * hour;
constexpr long ca_lifetime = 3650 * day;
constexpr long server_lifetime = 365 * day;
constexpr long renew_before = 30 * day;

// Certificates are public, but a reader must still never see half a file.
void write_public_file(const std::filesystem::path& path, const std::string& content) {
  auto tmp = path;
  tmp += ".tmp." + common::random_lower_alnum(8);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + path.string());
  }
  std::error_code ec;
  std::filesystem::permissions(tmp, std::filesystem::perms(0644), ec);
  if (!ec) std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp);
    throw std::runtime_error("cannot write " + path.string() + ": " + ec.message());
  }
}

pkey_ptr load_key(const std::filesystem::path& path) {
  return x509::parse_key(common::read_file(path), path.string());
}

x509_ptr load_cert(const std::filesystem::path& path) {
  return x509::parse_cert(common::read_file(path), path.string());
}

// Hosts come from config, where IPv6 literals are often written in URL brackets.
std::string bare_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return std::string(host);
}

// Reuse only what is provably fine: signed by this CA, matching its key, naming every host,
// and not about to expire. Anything else (including unreadable files) gets reissued.
bool server_cert_usable(const tls_files& files, X509* ca, const std::vector<std::string>& hosts) {
  try {
    x509_ptr cert = load_cert(files.server_cert);
    pkey_ptr key = load_key(files.server_key);
    if (X509_check_private_key(cert.get(), key.get()) != 1) return false;
    if (X509_verify(cert.get(), X509_get0_pubkey(ca)) != 1) return false;
    std::time_t soon = std::time(nullptr) + renew_before;
    if (X509_cmp_time(X509_get0_notAfter(cert.get()), &soon) <= 0) return false;
    for (const auto& host : hosts)
      if (!x509::covers(cert.get(), host)) return false;
    return true;
  } catch (const std::runtime_error&) {
    ERR_clear_error();
    return false;
  }
}

}  // namespace

tls_files ensure_tls(const std::filesystem::path& data_dir, const std::vector<std::string>& hosts) {
  common::ensure_private_dir(data_dir);
  tls_files files{data_dir / "ca.pem", data_dir / "ca-key.pem", data_dir / "server.pem",
                  data_dir / "server-key.pem"};

  std::vector<std::string> names;
  for (const auto& host : hosts)
    if (!host.empty()) names.push_back(bare_host(host));
  if (names.empty()) names.emplace_back("localhost");

  x509_ptr ca;
  pkey_ptr ca_key;
  if (std::filesystem::exists(files.ca_cert)) {
    if (!std::filesystem::exists(files.ca_key))
      // Replacing the CA would silently break every client that pinned the old one.
      throw std::runtime_error(files.ca_key.string() + " is missing; restore it, or remove " +
                               files.ca_cert.string() + " to create a new CA");
    ca = load_cert(files.ca_cert);
    ca_key = load_key(files.ca_key);
    if (X509_check_private_key(ca.get(), ca_key.get()) != 1) {
      ERR_clear_error();
      throw std::runtime_error(files.ca_key.string() + " does not match " + files.ca_cert.string());
    }
  } else {
    // A key without its certificate was never handed to anyone, so it is safe to replace.
    ca_key = x509::generate_key();
    ca = x509::make_ca(ca_key.get(), "apono local CA", ca_lifetime);
    // Key first: a crash in between leaves a lone key, which the branch above replaces.
    common::write_private_file(files.ca_key, x509::key_pem(ca_key.get()));
    write_public_file(files.ca_cert, x509::cert_pem(ca.get()));
  }

  if (!server_cert_usable(files, ca.get(), names)) {
    pkey_ptr key = x509::generate_key();
    x509_ptr cert =
        x509::make_server_cert(key.get(), ca.get(), ca_key.get(), names, server_lifetime);
    common::write_private_file(files.server_key, x509::key_pem(key.get()));
    write_public_file(files.server_cert, x509::cert_pem(cert.get()));
  }
  return files;
}

}  // namespace apono::broker
