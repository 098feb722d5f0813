// Randomness, hashing and private files.
#include "common/secrets.hpp"

#include <openssl/evp.h>
#include <catch2/catch.hpp>

#include <libpq-fe.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <set>

#include "tests/support/process.hpp"

using namespace apono::common;

TEST_CASE("tokens and passwords are random and well-formed") {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto t = random_token();
    CHECK(t.size() == 4 + 43);
    CHECK(t.rfind("apn_", 0) == 0);
    CHECK(seen.insert(t).second);
  }
  auto p = random_password(32);
  CHECK(p.size() == 32);
  CHECK(p.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") ==
        std::string::npos);
  CHECK(random_lower_alnum(6).find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") ==
        std::string::npos);
}

TEST_CASE("sha256, HMAC, hex and base64url known answers") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(hex(hmac_sha256("key", "The quick brown fox jumps over the lazy dog")) ==
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
  CHECK(hex(std::string("\x00\x0f\xa0\xff", 4)) == "000fa0ff");
  CHECK(base64url("") == "");
  CHECK(base64url("f") == "Zg");
  CHECK(base64url("fo") == "Zm8");
  CHECK(base64url("foo") == "Zm9v");
  CHECK(base64url("\xfb\xff") == "-_8");
  CHECK(constant_time_equal("abc", "abc"));
  CHECK_FALSE(constant_time_equal("abc", "abd"));
  CHECK_FALSE(constant_time_equal("abc", "ab"));
}

TEST_CASE("private files are 0600 in 0700 directories, even under a permissive umask") {
  auto old = ::umask(0);
  auto dir = apono::test::make_temp_dir("secrets-test") / "a" / "b";
  ensure_private_dir(dir);
  write_private_file(dir / "secret", "s3cret");
  ::umask(old);
  struct stat st {};
  REQUIRE(::stat(dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(::stat((dir / "secret").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(read_file(dir / "secret") == "s3cret");
  write_private_file(dir / "secret", "again");
  CHECK(read_file(dir / "secret") == "again");
  CHECK_THROWS_WITH(read_file(dir / "missing"), Catch::Contains("cannot read"));
  std::filesystem::remove_all(dir.parent_path().parent_path());
}

TEST_CASE("temp files a killed write left behind are removed, nothing else") {
  auto dir = apono::test::make_temp_dir("secrets-test");
  auto touch = [&](const std::string& name) { write_private_file(dir / name, "x"); };
  touch("dev-credentials.json.tmp.ab12cd34");  // what write_private_file names its temp
  touch("apono.db.tmp.zz99zz99");
  touch("keep.json");
  touch("upper.tmp.AB12CD34");  // not one of ours: other alphabet
  touch("short.tmp.ab12cd3");
  touch(".tmp.ab12cd34");
  std::filesystem::create_directory(dir / "d.tmp.ab12cd34");
  CHECK(remove_abandoned_temp_files(dir) == 2);
  std::set<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    left.insert(e.path().filename().string());
  CHECK(left == std::set<std::string>{"keep.json", "upper.tmp.AB12CD34", "short.tmp.ab12cd3",
                                      ".tmp.ab12cd34", "d.tmp.ab12cd34"});
  CHECK(remove_abandoned_temp_files(dir / "missing") == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("password hashes: round trip, wrong passwords, malformed encodings") {
  auto h = hash_password("correct horse", min_password_iterations);
  CHECK(h.rfind("pbkdf2-sha256$100000$", 0) == 0);
  CHECK(is_password_hash(h));
  CHECK(verify_password("correct horse", h));
  CHECK_FALSE(verify_password("correct horsE", h));
  CHECK_FALSE(verify_password("", h));
  CHECK(hash_password("correct horse", min_password_iterations) != h);  // salted
  CHECK(hash_password("x", 5).rfind("pbkdf2-sha256$100000$", 0) == 0);  // never below the floor

  // Made with Python's hashlib.pbkdf2_hmac and base64.b64encode, as docs/configuration.md shows.
  const std::string python =
      "pbkdf2-sha256$100000$c2FsdHNhbHRzYWx0c2FsdA==$T78tEi/mr8Yageny/jk6s5+Qanjd3ceXdjwOeEhX6bQ=";
  CHECK(verify_password("password", python));
  CHECK_FALSE(verify_password("Password", python));

  const std::string salt = "c2FsdHNhbHRzYWx0c2FsdA==";
  const std::string hash = "T78tEi/mr8Yageny/jk6s5+Qanjd3ceXdjwOeEhX6bQ=";
  for (const std::string& bad : {
           std::string(),
           std::string("password"),
           std::string("pbkdf2-sha256"),
           "pbkdf2-sha256$100000$" + salt,
           "pbkdf2-sha1$100000$" + salt + "$" + hash,
           "PBKDF2-SHA256$100000$" + salt + "$" + hash,
           "pbkdf2-sha256$99999$" + salt + "$" + hash,     // too few iterations
           "pbkdf2-sha256$10000001$" + salt + "$" + hash,  // too many
           "pbkdf2-sha256$-100000$" + salt + "$" + hash,
           "pbkdf2-sha256$1e6$" + salt + "$" + hash,
           "pbkdf2-sha256$$" + salt + "$" + hash,
           "pbkdf2-sha256$100000$$" + hash,
           "pbkdf2-sha256$100000$" + salt + "$",
           "pbkdf2-sha256$100000$" + salt + "$" + hash + "$",  // a fifth field
           "pbkdf2-sha256$100000$c2FsdA==$" + hash,            // 4-byte salt
           "pbkdf2-sha256$100000$" + salt +
               "$T78tEi/mr8Yageny/jk6s5+Qanjd3ceXdjwOeEhX6Q==",  // 31 bytes
           "pbkdf2-sha256$100000$" + salt +
               "$T78tEi/mr8Yageny/jk6s5+Qanjd3ceXdjwOeEhX6bQ",  // no padding
           "pbkdf2-sha256$100000$" + salt +
               "$T78tEi_mr8Yageny_jk6s5-Qanjd3ceXdjwOeEhX6bQ=",  // base64url
           "pbkdf2-sha256$100000$" + salt + "$T78tEi/mr8Yageny/jk6s5+Qanjd3ceXdjwOeEhX6b=Q",
           "pbkdf2-sha256$100000$c2FsdHNhbHRz YWx0c2FsdA==$" + hash,
       }) {
    INFO(bad);
    CHECK_FALSE(is_password_hash(bad));
    CHECK_FALSE(verify_password("password", bad));
  }
}

TEST_CASE("SCRAM-SHA-256 verifiers are libpq's, byte for byte") {
  // libpq computes a verifier without a server when the algorithm is named; a connection
  // object that never connected is enough.
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectStart("host=/nonexistent"), &PQfinish);
  REQUIRE(conn != nullptr);
  for (const std::string password : {"pencil", "Zq81xK0pLm2nB7vC4dR9sT6uW3yA5eF1", " !~\"'$:,="}) {
    char* theirs = PQencryptPasswordConn(conn.get(), password.c_str(), "apono_x", "scram-sha-256");
    REQUIRE(theirs != nullptr);
    const std::string verifier = theirs;
    PQfreemem(theirs);
    INFO("libpq: " << verifier);
    // SCRAM-SHA-256$4096:SALT$STOREDKEY:SERVERKEY; the same salt must give the same keys.
    const auto colon = verifier.find(':');
    const auto dollar = verifier.find('$', colon);
    REQUIRE(verifier.rfind("SCRAM-SHA-256$4096:", 0) == 0);
    REQUIRE(dollar != std::string::npos);
    const auto salt_b64 = verifier.substr(colon + 1, dollar - colon - 1);
    std::string salt(salt_b64.size(), '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(salt.data()),
                                  reinterpret_cast<const unsigned char*>(salt_b64.data()),
                                  static_cast<int>(salt_b64.size()));
    REQUIRE(n >= 0);
    salt.resize(static_cast<std::size_t>(n) - std::count(salt_b64.begin(), salt_b64.end(), '='));
    CHECK(scram_sha256_verifier(password, salt, 4096) == verifier);
    CHECK(scram_sha256_verifier(password, salt, 4095) != verifier);
    CHECK(scram_sha256_verifier(password + "x", salt, 4096) != verifier);
  }
  const auto a = scram_sha256_verifier("pencil");
  CHECK(a.rfind("SCRAM-SHA-256$4096:", 0) == 0);
  CHECK(a != scram_sha256_verifier("pencil"));                                   // salted
  CHECK_THROWS_AS(scram_sha256_verifier("caf\xc3\xa9"), std::invalid_argument);  // SASLprep's job
  CHECK_THROWS_AS(scram_sha256_verifier("tab\there"), std::invalid_argument);
  CHECK_THROWS_AS(scram_sha256_verifier("pencil", "salt", 0), std::invalid_argument);
}
