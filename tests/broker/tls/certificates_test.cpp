// ensure_tls: what it creates, with which modes and extensions, and when it reuses or reissues.
#include "broker/tls/certificates.hpp"
#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include <catch2/catch.hpp>

namespace {

namespace fs = std::filesystem;
using apono::test::file_mode;

using apono::test::temp_dir;

struct x509_free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
using x509_ptr = std::unique_ptr<X509, x509_free>;

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

x509_ptr load_cert(const fs::path& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  REQUIRE(f != nullptr);
  x509_ptr cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  REQUIRE(cert);
  return cert;
}

// Full chain verification with the TLS server purpose, as a client would do it.
bool verifies(X509* ca, X509* cert) {
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  X509_STORE_add_cert(store.get(), ca);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      X509_STORE_CTX_free);
  X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  return X509_verify_cert(ctx.get()) == 1;
}

std::vector<std::string> sans(X509* cert) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_DNS) {
      const ASN1_STRING* s = name->d.dNSName;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<std::size_t>(ASN1_STRING_length(s)));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      std::array<char, INET6_ADDRSTRLEN> buf{};
      const int family = ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6;
      ::inet_ntop(family, ASN1_STRING_get0_data(ip), buf.data(), buf.size());
      out.emplace_back("IP:" + std::string(buf.data()));
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

int serial_bytes(X509* cert) {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  return ASN1_STRING_length(serial);
}

}  // namespace

TEST_CASE("ensure_tls creates a private CA and a server certificate it signs", "[tls]") {
  temp_dir tmp;
  const auto dir = tmp.path / "data";
  const auto files = apono::broker::ensure_tls(dir, {"localhost", "127.0.0.1", "::1"});

  CHECK(files.ca_cert == dir / "ca.pem");
  CHECK(files.ca_key == dir / "ca-key.pem");
  CHECK(files.server_cert == dir / "server.pem");
  CHECK(files.server_key == dir / "server-key.pem");
  for (const auto& f : {files.ca_cert, files.ca_key, files.server_cert, files.server_key})
    CHECK(fs::is_regular_file(f));
  CHECK(file_mode(dir) == 0700);
  CHECK(file_mode(files.ca_key) == 0600);
  CHECK(file_mode(files.server_key) == 0600);
  CHECK(file_mode(files.ca_cert) == 0644);
  CHECK(file_mode(files.server_cert) == 0644);
  // No temp files left behind by the atomic writes.
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 4);

  auto ca = load_cert(files.ca_cert);
  auto server = load_cert(files.server_cert);
  CHECK(X509_check_ca(ca.get()) == 1);
  std::array<char, 128> cn{};
  X509_NAME_get_text_by_NID(X509_get_subject_name(ca.get()), NID_commonName, cn.data(),
                            static_cast<int>(cn.size()));
  CHECK(std::string(cn.data()) == "apono local CA");
  const int ku = X509_get_ext_by_NID(ca.get(), NID_key_usage, -1);
  REQUIRE(ku >= 0);
  CHECK(X509_EXTENSION_get_critical(X509_get_ext(ca.get(), ku)) == 1);
  const int bc = X509_get_ext_by_NID(ca.get(), NID_basic_constraints, -1);
  REQUIRE(bc >= 0);
  CHECK(X509_EXTENSION_get_critical(X509_get_ext(ca.get(), bc)) == 1);
  CHECK((X509_get_key_usage(ca.get()) & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) ==
        (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  CHECK(X509_get0_subject_key_id(ca.get()) != nullptr);
  CHECK(EVP_PKEY_is_a(X509_get0_pubkey(ca.get()), "EC"));

  CHECK(verifies(ca.get(), server.get()));
  CHECK(X509_check_ca(server.get()) == 0);
  CHECK(X509_get_ext_by_NID(server.get(), NID_ext_key_usage, -1) >= 0);
  CHECK((X509_get_extended_key_usage(server.get()) & XKU_SSL_SERVER) != 0);
  CHECK(X509_get0_authority_key_id(server.get()) != nullptr);
  CHECK(sans(server.get()) == std::vector<std::string>{"localhost", "IP:127.0.0.1", "IP:::1"});
  CHECK(X509_check_host(server.get(), "localhost", 0, 0, nullptr) == 1);
  CHECK(X509_check_ip_asc(server.get(), "127.0.0.1", 0) == 1);
  CHECK(X509_check_ip_asc(server.get(), "::1", 0) == 1);
  CHECK(X509_check_host(server.get(), "example.com", 0, 0, nullptr) == 0);

  // 128 random bits, kept positive: 16 octets, never 17.
  CHECK(serial_bytes(ca.get()) == 16);
  CHECK(serial_bytes(server.get()) == 16);
  CHECK(ASN1_INTEGER_cmp(X509_get0_serialNumber(ca.get()), X509_get0_serialNumber(server.get())) !=
        0);
}

TEST_CASE("ensure_tls reuses what is there and reissues only the server certificate", "[tls]") {
  temp_dir tmp;
  const auto files = apono::broker::ensure_tls(tmp.path, {"localhost", "127.0.0.1", "::1"});
  const auto ca = slurp(files.ca_cert);
  const auto ca_key = slurp(files.ca_key);
  const auto server = slurp(files.server_cert);
  const auto server_key = slurp(files.server_key);

  SECTION("the same hosts reuse everything") {
    apono::broker::ensure_tls(tmp.path, {"localhost", "127.0.0.1", "::1"});
    CHECK(slurp(files.ca_cert) == ca);
    CHECK(slurp(files.ca_key) == ca_key);
    CHECK(slurp(files.server_cert) == server);
    CHECK(slurp(files.server_key) == server_key);
  }

  SECTION("a subset of the hosts, or IPv6 in brackets, still reuses the server certificate") {
    apono::broker::ensure_tls(tmp.path, {"[::1]", "localhost"});
    CHECK(slurp(files.server_cert) == server);
  }

  SECTION("a new host reissues the server certificate under the same CA") {
    apono::broker::ensure_tls(tmp.path, {"localhost", "127.0.0.1", "::1", "broker.internal"});
    CHECK(slurp(files.ca_cert) == ca);
    CHECK(slurp(files.ca_key) == ca_key);
    CHECK(slurp(files.server_cert) != server);
    CHECK(slurp(files.server_key) != server_key);
    CHECK(file_mode(files.server_key) == 0600);
    auto ca_cert = load_cert(files.ca_cert);
    auto cert = load_cert(files.server_cert);
    CHECK(verifies(ca_cert.get(), cert.get()));
    CHECK(sans(cert.get()) ==
          std::vector<std::string>{"localhost", "IP:127.0.0.1", "IP:::1", "broker.internal"});
  }

  SECTION("a server certificate from another CA is replaced") {
    temp_dir other;
    const auto other_files = apono::broker::ensure_tls(other.path, {"localhost"});
    fs::copy_file(other_files.server_cert, files.server_cert, fs::copy_options::overwrite_existing);
    fs::copy_file(other_files.server_key, files.server_key, fs::copy_options::overwrite_existing);
    apono::broker::ensure_tls(tmp.path, {"localhost"});
    auto ca_cert = load_cert(files.ca_cert);
    auto cert = load_cert(files.server_cert);
    CHECK(verifies(ca_cert.get(), cert.get()));
  }

  SECTION("a CA certificate without its key is an error, not a new CA") {
    fs::remove(files.ca_key);
    CHECK_THROWS_WITH(apono::broker::ensure_tls(tmp.path, {"localhost"}),
                      Catch::Contains("ca-key.pem is missing"));
    CHECK(slurp(files.ca_cert) == ca);
  }

  SECTION("a lone CA key (a crash before the certificate was written) is replaced") {
    fs::remove(files.ca_cert);
    apono::broker::ensure_tls(tmp.path, {"localhost"});
    CHECK(slurp(files.ca_key) != ca_key);
    auto ca_cert = load_cert(files.ca_cert);
    auto cert = load_cert(files.server_cert);
    CHECK(verifies(ca_cert.get(), cert.get()));
  }
}
