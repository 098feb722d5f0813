// The SSH user CA: its key file, and certificates and fingerprints checked against the real
// ssh-keygen, which verifies the CA signature whenever it reads a certificate.
#include "broker/ssh/user_ca.hpp"

#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "common/error.hpp"
#include "tests/support/process.hpp"

namespace {

namespace fs = std::filesystem;
using apono::test::file_mode;

using apono::broker::ssh::cert_request;
using apono::broker::ssh::fingerprint;
using apono::broker::ssh::parse_ed25519_public_key;
using apono::broker::ssh::user_ca;
using apono::common::api_error;
using apono::common::errc;
using apono::test::run;
using apono::test::temp_dir;

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void spit(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  REQUIRE(out);
}

std::string trim(std::string s) {
  s.erase(0, s.find_first_not_of(" \t\r\n"));
  s.erase(s.find_last_not_of(" \t\r\n") + 1);
  return s;
}

// The output's lines without their indentation, so checks do not depend on ssh-keygen's tabs.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(trim(line));
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  const auto lines = lines_of(text);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

// The first line starting with `prefix`, or "" when there is none.
std::string line_starting(const std::string& text, const std::string& prefix) {
  for (const auto& line : lines_of(text))
    if (line.rfind(prefix, 0) == 0) return line;
  return {};
}

// Makes a key pair with ssh-keygen and returns its public key line.
std::string keygen(const fs::path& file, const std::vector<std::string>& type_args) {
  std::vector<std::string> argv{"ssh-keygen", "-q", "-N", "", "-C", "test@apono"};
  argv.insert(argv.end(), type_args.begin(), type_args.end());
  argv.insert(argv.end(), {"-f", file.string()});
  auto res = run(argv);
  INFO(res.output);
  REQUIRE(res.status == 0);
  return trim(slurp(fs::path(file.string() + ".pub")));
}

// What `ssh-keygen -l -f` prints for a key file: "256 SHA256:... comment (ED25519)".
std::string keygen_fingerprint(const fs::path& pub) {
  auto res = run({"ssh-keygen", "-l", "-E", "sha256", "-f", pub.string()});
  INFO(res.output);
  REQUIRE(res.status == 0);
  std::istringstream in(res.output);
  std::string bits, fp;
  in >> bits >> fp;
  return fp;
}

std::string b64encode(const std::string& data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string b64decode(const std::string& text) {
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  REQUIRE(n == static_cast<int>(out.size()));
  // The decoder counts the '=' padding as zero bytes; drop them. (erase, not resize: GCC 12
  // takes resize(size - k) for a huge memset.)
  const auto padding = static_cast<std::size_t>(std::count(text.end() - 2, text.end(), '='));
  REQUIRE(padding <= out.size());
  out.erase(out.size() - padding);
  return out;
}

// The second field of "TYPE BASE64 [COMMENT]".
std::string key_data(const std::string& line) {
  std::istringstream in(line);
  std::string type, data;
  in >> type >> data;
  return data;
}

apono::common::time_point at(const std::string& rfc3339) {
  auto t = apono::common::parse_rfc3339(rfc3339);
  REQUIRE(t);
  return *t;
}

// The message of the api_error(invalid_argument) that `f` must throw.
template <class F>
std::string rejection(F&& f) {
  try {
    f();
  } catch (const api_error& e) {
    CHECK(e.code() == errc::invalid_argument);
    const std::string message = e.what();
    CHECK_FALSE(message.empty());
    CHECK(message.find('\n') == std::string::npos);
    return message;
  }
  FAIL("no api_error was thrown");
  return {};
}

std::string parse_rejection(const std::string& line) {
  return rejection([&] { (void)parse_ed25519_public_key(line); });
}

cert_request deploy_request(const std::string& public_key) {
  cert_request r;
  r.public_key = public_key;
  r.serial = 12;
  r.key_id = "AR-00012 alice deploy@web-1";
  r.principals = {"alice", "deploy"};
  r.valid_after = at("2026-11-22T10:00:00Z");
  r.valid_before = at("2026-11-22T11:30:00Z");
  r.extensions = {"permit-pty", "permit-agent-forwarding", "permit-pty"};
  r.critical_options = {{"source-address", "127.0.0.1/32"}, {"force-command", "/usr/bin/true"}};
  return r;
}

}  // namespace

TEST_CASE("load_or_create makes a 0600 key in a 0700 dir and reloads the same key") {
  temp_dir tmp("user-ca-test");
  const fs::path dir = tmp.path / "ssh";
  const fs::path path = dir / "user-ca-key.pem";

  const user_ca ca = user_ca::load_or_create(path);
  CHECK(file_mode(dir) == 0700);
  CHECK(file_mode(path) == 0600);
  CHECK(slurp(path).rfind("-----BEGIN PRIVATE KEY-----\n", 0) == 0);

  const std::string line = ca.public_key_line();
  CHECK(line.rfind("ssh-ed25519 ", 0) == 0);
  CHECK(line.size() > std::string(" apono-user-ca").size());
  CHECK(line.substr(line.size() - 14) == " apono-user-ca");
  CHECK(parse_ed25519_public_key(line).size() == 32);

  const std::string pem = slurp(path);
  const user_ca again = user_ca::load_or_create(path);
  CHECK(again.public_key_line() == line);
  CHECK(slurp(path) == pem);

  // Moved-from and moved-to: the key goes with the object.
  user_ca moved = user_ca::load_or_create(path);
  user_ca target = std::move(moved);
  CHECK(target.public_key_line() == line);

  spit(tmp.path / "ca.pub", line + "\n");
  CHECK(keygen_fingerprint(tmp.path / "ca.pub") == fingerprint(line));

  const user_ca other = user_ca::load_or_create(tmp.path / "other-key.pem");
  CHECK(other.public_key_line() != line);
}

TEST_CASE("load_or_create refuses a corrupt or non-Ed25519 key and leaves it alone") {
  temp_dir tmp("user-ca-test");

  const fs::path corrupt = tmp.path / "corrupt.pem";
  spit(corrupt, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
  CHECK_THROWS_AS(user_ca::load_or_create(corrupt), std::runtime_error);
  CHECK_THROWS_WITH(user_ca::load_or_create(corrupt), Catch::Contains(corrupt.string()));
  CHECK(slurp(corrupt).find("not a key") != std::string::npos);

  const fs::path empty = tmp.path / "empty.pem";
  spit(empty, "");
  CHECK_THROWS_WITH(user_ca::load_or_create(empty), Catch::Contains(empty.string()));

  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> ec(EVP_EC_gen("P-256"), EVP_PKEY_free);
  REQUIRE(ec);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  REQUIRE(PEM_write_bio_PrivateKey(bio.get(), ec.get(), nullptr, nullptr, 0, nullptr, nullptr));
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  const fs::path p256 = tmp.path / "p256.pem";
  spit(p256, std::string(data, static_cast<std::size_t>(len)));
  CHECK_THROWS_WITH(user_ca::load_or_create(p256),
                    Catch::Contains(p256.string()) && Catch::Contains("not an Ed25519 key"));

  const fs::path a_dir = tmp.path / "a-dir";
  fs::create_directory(a_dir);
  CHECK_THROWS_WITH(user_ca::load_or_create(a_dir), Catch::Contains(a_dir.string()));
}

TEST_CASE("a signed user certificate reads back with ssh-keygen -L") {
  temp_dir tmp("user-ca-test");
  const user_ca ca = user_ca::load_or_create(tmp.path / "ca-key.pem");
  const std::string client = keygen(tmp.path / "id", {"-t", "ed25519"});

  const std::string cert = ca.sign(deploy_request(client));
  CHECK(cert.rfind("ssh-ed25519-cert-v01@openssh.com ", 0) == 0);
  CHECK(cert.substr(cert.size() - 28) == " AR-00012 alice deploy@web-1");
  spit(tmp.path / "id-cert.pub", cert + "\n");

  auto res =
      run({"ssh-keygen", "-L", "-f", (tmp.path / "id-cert.pub").string()}, {}, {{"TZ", "UTC"}});
  INFO(res.output);
  REQUIRE(res.status == 0);
  const std::string& out = res.output;
  CHECK(has_line(out, "Type: ssh-ed25519-cert-v01@openssh.com user certificate"));
  CHECK(has_line(out, "Public key: ED25519-CERT " + fingerprint(client)));
  CHECK(has_line(out, "Key ID: \"AR-00012 alice deploy@web-1\""));
  CHECK(has_line(out, "Serial: 12"));
  CHECK(has_line(out, "Valid: from 2026-11-22T10:00:00 to 2026-11-22T11:30:00"));
  CHECK(has_line(out, "alice"));
  CHECK(has_line(out, "deploy"));
  // Extensions are sorted and the duplicate permit-pty is written once.
  const auto lines = lines_of(out);
  const auto ext = std::find(lines.begin(), lines.end(), "Extensions:");
  REQUIRE(ext != lines.end());
  REQUIRE(lines.end() - ext == 3);
  CHECK(ext[1] == "permit-agent-forwarding");
  CHECK(ext[2] == "permit-pty");
  CHECK(has_line(out, "force-command /usr/bin/true"));
  CHECK(has_line(out, "source-address 127.0.0.1/32"));

  const std::string signing_ca = line_starting(out, "Signing CA: ");
  const std::string ca_fp = fingerprint(ca.public_key_line());
  CHECK(signing_ca == "Signing CA: ED25519 " + ca_fp + " (using ssh-ed25519)");
  spit(tmp.path / "ca.pub", ca.public_key_line() + "\n");
  CHECK(keygen_fingerprint(tmp.path / "ca.pub") == ca_fp);
}

TEST_CASE("a certificate without options, and sub-second times truncated to seconds") {
  temp_dir tmp("user-ca-test");
  const user_ca ca = user_ca::load_or_create(tmp.path / "ca-key.pem");
  cert_request r;
  r.public_key = keygen(tmp.path / "id", {"-t", "ed25519"});
  r.serial = 0xfedcba9876543210;
  r.principals = {"root"};
  r.valid_after = at("2030-01-02T03:04:05.999Z");
  r.valid_before = at("2030-01-02T03:04:06.500Z");
  const std::string cert = ca.sign(r);
  CHECK(std::count(cert.begin(), cert.end(), ' ') == 1);  // an empty key id adds no comment
  spit(tmp.path / "id-cert.pub", cert + "\n");

  auto res =
      run({"ssh-keygen", "-L", "-f", (tmp.path / "id-cert.pub").string()}, {}, {{"TZ", "UTC"}});
  INFO(res.output);
  REQUIRE(res.status == 0);
  CHECK(has_line(res.output, "Key ID: \"\""));
  CHECK(has_line(res.output, "Serial: 18364758544493064720"));
  CHECK(has_line(res.output, "Valid: from 2030-01-02T03:04:05 to 2030-01-02T03:04:06"));
  CHECK(has_line(res.output, "Critical Options: (none)"));
  CHECK(has_line(res.output, "Extensions: (none)"));
}

TEST_CASE("ssh-keygen rejects a certificate changed after signing") {
  temp_dir tmp("user-ca-test");
  const user_ca ca = user_ca::load_or_create(tmp.path / "ca-key.pem");
  const std::string client = keygen(tmp.path / "id", {"-t", "ed25519"});
  const std::string cert = ca.sign(deploy_request(client));
  const std::string blob = b64decode(key_data(cert));

  const auto reads = [&](const std::string& changed) {
    const fs::path file = tmp.path / "id-cert.pub";
    spit(file, "ssh-ed25519-cert-v01@openssh.com " + b64encode(changed) + "\n");
    return run({"ssh-keygen", "-L", "-f", file.string()}).status == 0;
  };
  REQUIRE(reads(blob));

  // "alice" in the key id becomes "blice": signed data, so the signature no longer holds.
  std::string key_id_changed = blob;
  const auto at_key_id = key_id_changed.find("AR-00012 alice");
  REQUIRE(at_key_id != std::string::npos);
  key_id_changed[at_key_id + 9] ^= 0x03;
  CHECK_FALSE(reads(key_id_changed));

  // The serial, a few bytes after the key.
  std::string serial_changed = blob;
  const auto at_serial = serial_changed.find(std::string("\0\0\0\0\0\0\0\x0c", 8));
  REQUIRE(at_serial != std::string::npos);
  serial_changed[at_serial + 7] = 0x0d;
  CHECK_FALSE(reads(serial_changed));

  // The last byte of the signature itself.
  std::string signature_changed = blob;
  signature_changed.back() ^= 0x01;
  CHECK_FALSE(reads(signature_changed));
}

TEST_CASE("fingerprint matches ssh-keygen -l") {
  temp_dir tmp("user-ca-test");
  for (int i = 0; i < 3; ++i) {
    const fs::path key = tmp.path / ("id" + std::to_string(i));
    const std::string line = keygen(key, {"-t", "ed25519"});
    const std::string fp = fingerprint(line);
    CHECK(fp.rfind("SHA256:", 0) == 0);
    CHECK(fp.size() == 7 + 43);
    CHECK(keygen_fingerprint(fs::path(key.string() + ".pub")) == fp);
  }
}

TEST_CASE("parse_ed25519_public_key takes the key from a line, with or without a comment") {
  temp_dir tmp("user-ca-test");
  const std::string line = keygen(tmp.path / "id", {"-t", "ed25519"});
  const std::string key = parse_ed25519_public_key(line);
  REQUIRE(key.size() == 32);
  const std::string data = key_data(line);
  CHECK(b64decode(data).substr(b64decode(data).size() - 32) == key);
  CHECK(parse_ed25519_public_key("ssh-ed25519 " + data) == key);
  CHECK(parse_ed25519_public_key("  ssh-ed25519\t" + data + " a comment with spaces\r\n") == key);
}

TEST_CASE("parse_ed25519_public_key rejects everything but one ssh-ed25519 key") {
  temp_dir tmp("user-ca-test");
  const std::string ed25519 = keygen(tmp.path / "ed", {"-t", "ed25519"});
  const std::string rsa = keygen(tmp.path / "rsa", {"-t", "rsa", "-b", "2048"});
  const std::string ecdsa = keygen(tmp.path / "ecdsa", {"-t", "ecdsa", "-b", "256"});
  const user_ca ca = user_ca::load_or_create(tmp.path / "ca-key.pem");
  const std::string cert = ca.sign(deploy_request(ed25519));
  const std::string blob = b64decode(key_data(ed25519));

  CHECK(parse_rejection(rsa) == "only ssh-ed25519 public keys are accepted, not ssh-rsa");
  CHECK(parse_rejection(ecdsa) ==
        "only ssh-ed25519 public keys are accepted, not ecdsa-sha2-nistp256");
  CHECK_THAT(parse_rejection(cert), Catch::Contains("certificate"));
  CHECK_THAT(parse_rejection(""), Catch::Contains("empty"));
  CHECK_THAT(parse_rejection(" \n"), Catch::Contains("empty"));
  CHECK_THAT(parse_rejection("ssh-ed25519"), Catch::Contains("no key data"));
  CHECK_THAT(parse_rejection("ssh-ed25519 AAAA!!!! x"), Catch::Contains("base64"));
  CHECK_THAT(parse_rejection("ssh-ed25519 " + key_data(ed25519).substr(1)),
             Catch::Contains("base64"));
  CHECK_THAT(parse_rejection("ssh-ed25519 " + b64encode(blob.substr(0, blob.size() - 1))),
             Catch::Contains("32-byte"));
  CHECK_THAT(parse_rejection("ssh-ed25519 " + b64encode(blob.substr(0, 10))),
             Catch::Contains("ssh-ed25519"));
  CHECK_THAT(parse_rejection("ssh-ed25519 " + b64encode(blob + "x")), Catch::Contains("trailing"));
  // The outer type lies about the blob.
  CHECK_THAT(parse_rejection("ssh-ed25519 " + key_data(rsa)),
             Catch::Contains("not an ssh-ed25519 key"));
  CHECK_THAT(parse_rejection(ed25519 + "\n" + ed25519), Catch::Contains("one SSH public key line"));
  // A private key pasted by mistake: refused without quoting any of it.
  const std::string private_key = slurp(tmp.path / "ed");
  const std::string message = parse_rejection(private_key);
  CHECK_THAT(message, Catch::Contains("PEM"));
  CHECK(message.find("OPENSSH") == std::string::npos);
  CHECK_THAT(parse_rejection("c2VjcmV0IHN0dWZmIQ== more"),
             !Catch::Contains("c2VjcmV0") && Catch::Contains("not an SSH public key line"));
  CHECK_THROWS_AS(fingerprint(rsa), api_error);
}

TEST_CASE("sign refuses requests that cannot make a valid certificate") {
  temp_dir tmp("user-ca-test");
  const user_ca ca = user_ca::load_or_create(tmp.path / "ca-key.pem");
  const std::string client = keygen(tmp.path / "id", {"-t", "ed25519"});
  const auto sign_rejection = [&](const cert_request& r) {
    return rejection([&] { (void)ca.sign(r); });
  };

  cert_request r = deploy_request(client);
  r.principals.clear();
  CHECK_THAT(sign_rejection(r), Catch::Contains("principal"));

  r = deploy_request(client);
  r.valid_before = r.valid_after;
  CHECK_THAT(sign_rejection(r), Catch::Contains("valid_before"));
  r.valid_before = r.valid_after - std::chrono::hours(1);
  CHECK_THAT(sign_rejection(r), Catch::Contains("valid_before"));
  // Different instants within one second are the same second in a certificate.
  r.valid_after = at("2026-11-22T10:00:00.100Z");
  r.valid_before = at("2026-11-22T10:00:00.900Z");
  CHECK_THAT(sign_rejection(r), Catch::Contains("valid_before"));

  r = deploy_request(client);
  r.public_key = keygen(tmp.path / "rsa", {"-t", "rsa", "-b", "2048"});
  CHECK_THAT(sign_rejection(r), Catch::Contains("not ssh-rsa"));
  r.public_key.clear();
  CHECK_THAT(sign_rejection(r), Catch::Contains("empty"));

  r = deploy_request(client);
  r.key_id = "AR-1\nforged log line";
  CHECK_THAT(sign_rejection(r), Catch::Contains("control characters"));
  r = deploy_request(client);
  r.principals.push_back("");
  CHECK_THAT(sign_rejection(r), Catch::Contains("principal"));
  r = deploy_request(client);
  r.critical_options["force-command"] = "a\nb";
  CHECK_THAT(sign_rejection(r), Catch::Contains("control characters"));
}
