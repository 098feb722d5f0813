// X.509 building blocks on OpenSSL 3. Everything is ECDSA P-256 / SHA-256.
#include "common/x509.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <array>
#include <stdexcept>

namespace apono::common::x509 {
namespace {

using bio_ptr = std::unique_ptr<BIO, deleter<BIO_free>>;
using name_ptr = std::unique_ptr<X509_NAME, deleter<X509_NAME_free>>;
using bn_ptr = std::unique_ptr<BIGNUM, deleter<BN_free>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, deleter<X509_EXTENSION_free>>;
using general_names_ptr = std::unique_ptr<GENERAL_NAMES, deleter<GENERAL_NAMES_free>>;
using general_name_ptr = std::unique_ptr<GENERAL_NAME, deleter<GENERAL_NAME_free>>;

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

}  // namespace

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

pkey_ptr parse_key(const std::string& pem, std::string_view what) {
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) fail("out of memory");
  pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) fail("cannot parse " + std::string(what));
  return key;
}

x509_ptr parse_cert(const std::string& pem, std::string_view what) {
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) fail("out of memory");
  x509_ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) fail("cannot parse " + std::string(what));
  return cert;
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

x509_ptr make_ca(EVP_PKEY* key, const std::string& common_name, long lifetime) {
  x509_ptr cert = new_cert(key, common_name, lifetime);
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
                          const std::vector<std::string>& hosts, long lifetime) {
  x509_ptr cert = new_cert(key, hosts.front(), lifetime);
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

}  // namespace apono::common::x509
