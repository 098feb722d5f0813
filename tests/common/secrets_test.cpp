// Randomness, hashing and private files.
#include "common/secrets.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

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

TEST_CASE("sha256 and base64url known answers") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
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
