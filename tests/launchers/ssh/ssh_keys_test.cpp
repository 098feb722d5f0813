// Session keys against the real OpenSSH ssh-keygen: the private key loads and gives back the
// same public key, and the public key line parses.
#include "launchers/ssh/ssh_keys.hpp"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/process.hpp"

namespace {

using apono::launchers::generate_ssh_keypair;
namespace fs = std::filesystem;

std::vector<std::string> fields(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

void write_private(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
}

}  // namespace

TEST_CASE("ssh keys: a fresh Ed25519 pair in the OpenSSH formats", "[unit]") {
  auto pair = generate_ssh_keypair("apono AR-00012");
  CHECK(pair.private_key.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
  CHECK(pair.private_key.ends_with("-----END OPENSSH PRIVATE KEY-----\n"));
  auto pub = fields(pair.public_key);
  REQUIRE(pub.size() == 4);
  CHECK(pub[0] == "ssh-ed25519");
  CHECK(pub[1].starts_with("AAAAC3NzaC1lZDI1NTE5AAAAI"));  // the Ed25519 blob's fixed prefix
  CHECK(pub[2] + " " + pub[3] == "apono AR-00012");

  apono::test::temp_dir dir("apono-sshkeys-");
  const auto key = dir.path / "id";
  write_private(key, pair.private_key);
  // ssh-keygen -y derives the public key from the private file: it must be the one we got.
  auto derived = apono::test::run({"ssh-keygen", "-y", "-f", key.string()});
  INFO(derived.output);
  REQUIRE(derived.status == 0);
  auto d = fields(derived.output);
  REQUIRE(d.size() >= 2);
  CHECK(d[0] == pub[0]);
  CHECK(d[1] == pub[1]);

  const auto pub_file = dir.path / "id.pub";
  std::ofstream(pub_file) << pair.public_key << "\n";
  auto listed = apono::test::run({"ssh-keygen", "-l", "-f", pub_file.string()});
  INFO(listed.output);
  REQUIRE(listed.status == 0);
  auto l = fields(listed.output);
  REQUIRE(l.size() == 5);
  CHECK(l[0] == "256");
  CHECK(l[1].starts_with("SHA256:"));
  CHECK(l[2] + " " + l[3] == "apono AR-00012");
  CHECK(l[4] == "(ED25519)");
}

TEST_CASE("ssh keys: every call makes a new key; no comment, no comment field", "[unit]") {
  auto a = generate_ssh_keypair("");
  auto b = generate_ssh_keypair("");
  CHECK(fields(a.public_key).size() == 2);
  CHECK(a.public_key != b.public_key);
  CHECK(a.private_key != b.private_key);
}

TEST_CASE("ssh keys: a comment must be one printable line", "[unit]") {
  CHECK_THROWS_AS(generate_ssh_keypair("two\nlines"), std::runtime_error);
  CHECK_THROWS_AS(generate_ssh_keypair(std::string("nul\0byte", 8)), std::runtime_error);
}
