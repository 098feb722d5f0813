// Creates and reuses the broker's local CA and server certificate with OpenSSL 3.
// Everything is ECDSA P-256 / SHA-256; keys go to 0600 files, certificates to 0644 ones.
#include "broker/tls/certificates.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string_view>

#include "common/secrets.hpp"

namespace apono::broker {
namespace {

template <auto Fn>
struct deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Fn(p);
  }
};

using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO_free>>;
using name_ptr = std::unique_ptr<X509_NAME, deleter<X509_NAME_free>>;
using bn_ptr = std::unique_ptr<BIGNUM, deleter<BN_free>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, deleter<X509_EXTENSION_free>>;
using general_names_ptr = std::unique_ptr<GENERAL_NAMES, deleter<GENERAL_NAMES_free>>;
using general_name_ptr = std::unique_ptr<GENERAL_NAME, deleter<GENERAL_NAME_free>>;

constexpr long hour = 60L * 60;
constexpr long day = 24 * hour;
constexpr long ca_lifetime = 3650 * day;
constexpr long server_lifetime = 365 * day;
constexpr long renew_before = 30 * day;
// Backdating absorbs small clock differences between the broker and its clients.
constexpr long backdate = hour;

[[noreturn]] void fail(std::string_view what) {
  std::string message(what);
  if (unsigned long err = ERR_get_error(); err != 0) {
    std::array<char, 256> buf{};
    ERR_error_string_n(err, buf.data(), buf.size());
    message += ": ";
    message += buf.data();
  }
  ERR_clear_error();
  throw std::runtime_error(message);
}

void check(int ok, std::string_view what) {
  if (ok != 1) fail(what);
}

pkey_ptr generate_key() {
  pkey_ptr key(EVP_EC_gen("P-256"));
  if (!key) fail("cannot generate a P-256 key");
  return key;
}

std::string key_pem(EVP_PKEY* key) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio) fail("out of memory");
  check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
        "cannot encode a private key");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string cert_pem(X509* cert) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio) fail("out of memory");
  check(PEM_write_bio_X509(bio.get(), cert), "cannot encode a certificate");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

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
  const std::string pem = common::read_file(path);
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) fail("out of memory");
  pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) fail("cannot parse " + path.string());
  return key;
}

x509_ptr load_cert(const std::filesystem::path& path) {
  const std::string pem = common::read_file(path);
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) fail("out of memory");
  x509_ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) fail("cannot parse " + path.string());
  return cert;
}

// Hosts come from config, where IPv6 literals are often written in URL brackets.
std::string bare_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return std::string(host);
}

bool is_ip_literal(const std::string& host) {
  ASN1_OCTET_STRING* ip = a2i_IPADDRESS(host.c_str());
  if (!ip) {
    ERR_clear_error();
    return false;
  }
  ASN1_OCTET_STRING_free(ip);
  return true;
}

// A positive 128-bit random serial (RFC 5280 allows up to 20 octets, and unpredictable
// serials are what the CA/B Forum asks for).
void set_random_serial(X509* cert) {
  std::array<unsigned char, 16> bytes{};
  check(RAND_bytes(bytes.data(), static_cast<int>(bytes.size())), "cannot generate a serial");
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);
  bn_ptr bn(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)))
    fail("cannot set a serial number");
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ext_ptr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext) fail(std::string("cannot build extension ") + OBJ_nid2sn(nid));
  check(X509_add_ext(cert, ext.get(), -1), "cannot add an extension");
}

// Built from GENERAL_NAME objects rather than a config string, so a host can never inject
// extra names through a comma.
void add_subject_alt_names(X509* cert, const std::vector<std::string>& hosts) {
  general_names_ptr names(sk_GENERAL_NAME_new_null());
  if (!names) fail("out of memory");
  for (const auto& host : hosts) {
    general_name_ptr name(GENERAL_NAME_new());
    if (!name) fail("out of memory");
    if (ASN1_OCTET_STRING* ip = a2i_IPADDRESS(host.c_str())) {
      GENERAL_NAME_set0_value(name.get(), GEN_IPADD, ip);
    } else {
      ERR_clear_error();
      ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
      if (!dns || ASN1_STRING_set(dns, host.data(), static_cast<int>(host.size())) != 1) {
        ASN1_IA5STRING_free(dns);
        fail("cannot encode host name " + host);
      }
      GENERAL_NAME_set0_value(name.get(), GEN_DNS, dns);
    }
    if (sk_GENERAL_NAME_push(names.get(), name.get()) == 0) fail("out of memory");
    name.release();
  }
  check(X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT),
        "cannot add subjectAltName");
}

x509_ptr new_cert(EVP_PKEY* key, const std::string& common_name, long lifetime) {
  x509_ptr cert(X509_new());
  if (!cert) fail("out of memory");
  check(X509_set_version(cert.get(), X509_VERSION_3), "cannot set the certificate version");
  set_random_serial(cert.get());
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -backdate) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), lifetime))
    fail("cannot set the validity period");
  check(X509_set_pubkey(cert.get(), key), "cannot set the public key");
  name_ptr name(X509_NAME_new());
  if (!name) fail("out of memory");
  // CN is limited to 64 characters (RFC 5280 ub-common-name); SANs carry the real names.
  const std::string cn = common_name.substr(0, 64);
  check(X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0),
        "cannot set the subject name");
  check(X509_set_subject_name(cert.get(), name.get()), "cannot set the subject name");
  return cert;
}

x509_ptr make_ca(EVP_PKEY* key) {
  x509_ptr cert = new_cert(key, "apono local CA", ca_lifetime);
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())),
        "cannot set the issuer name");
  add_ext(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_ext(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  add_ext(cert.get(), cert.get(), NID_authority_key_identifier, "keyid:always");
  if (X509_sign(cert.get(), key, EVP_sha256()) <= 0) fail("cannot sign the CA certificate");
  return cert;
}

x509_ptr make_server_cert(EVP_PKEY* key, X509* ca, EVP_PKEY* ca_key,
                          const std::vector<std::string>& hosts) {
  x509_ptr cert = new_cert(key, hosts.front(), server_lifetime);
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(ca)), "cannot set the issuer name");
  add_ext(cert.get(), ca, NID_basic_constraints, "critical,CA:FALSE");
  add_ext(cert.get(), ca, NID_key_usage, "critical,digitalSignature");
  add_ext(cert.get(), ca, NID_ext_key_usage, "serverAuth");
  add_ext(cert.get(), ca, NID_subject_key_identifier, "hash");
  add_ext(cert.get(), ca, NID_authority_key_identifier, "keyid:always");
  add_subject_alt_names(cert.get(), hosts);
  if (X509_sign(cert.get(), ca_key, EVP_sha256()) <= 0) fail("cannot sign the server certificate");
  return cert;
}

bool covers(X509* cert, const std::string& host) {
  const int ok = is_ip_literal(host)
                     ? X509_check_ip_asc(cert, host.c_str(), 0)
                     : X509_check_host(cert, host.data(), host.size(),
                                       X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr);
  ERR_clear_error();
  return ok == 1;
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
      if (!covers(cert.get(), host)) return false;
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
    if (X509_check_private_key(ca.get(), ca_key.get()) != 1)
      fail(files.ca_key.string() + " does not match " + files.ca_cert.string());
  } else {
    // A key without its certificate was never handed to anyone, so it is safe to replace.
    ca_key = generate_key();
    ca = make_ca(ca_key.get());
    // Key first: a crash in between leaves a lone key, which the branch above replaces.
    common::write_private_file(files.ca_key, key_pem(ca_key.get()));
    write_public_file(files.ca_cert, cert_pem(ca.get()));
  }

  if (!server_cert_usable(files, ca.get(), names)) {
    pkey_ptr key = generate_key();
    x509_ptr cert = make_server_cert(key.get(), ca.get(), ca_key.get(), names);
    common::write_private_file(files.server_key, key_pem(key.get()));
    write_public_file(files.server_cert, cert_pem(cert.get()));
  }
  return files;
}

}  // namespace apono::broker
