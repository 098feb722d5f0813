// Sealing unit secrets at rest: round trips, tampering, rotation and the key file's checks.
#include "broker/store/secret_box.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "common/secrets.hpp"
#include "tests/support/process.hpp"

using namespace apono::broker;
using Catch::Matchers::Contains;

namespace {

// Keys whose bytes a test can name: 0..31, and 32 bytes of 0xff.
constexpr const char* key_a = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr const char* key_b = "//////////////////////////////////////////8=";

secret_box box_of(const std::string& text) {
  return secret_box::from_text(text, "test keys");
}

// The message from_text throws for `text`; fails the test when it does not throw.
std::string error_of(const std::string& text) {
  try {
    (void)box_of(text);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  FAIL("accepted: " << text);
  return {};
}

std::string open_error(const secret_box& box, const sealed_secret& s, std::string_view context) {
  try {
    (void)box.open(s, context);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  FAIL("opened");
  return {};
}

// Replaces one base64url character in the middle, where each carries six whole bits.
std::string flip_char(std::string text, std::size_t at) {
  text[at] = text[at] == 'A' ? 'B' : 'A';
  return text;
}

}  // namespace

TEST_CASE("a sealed secret opens to the same value under the same context") {
  auto box = box_of(std::string("k1 ") + key_a);
  REQUIRE(box.has_keys());
  CHECK(box.current_key_id() == "k1");
  auto sealed = box.seal("hunter2", "unit:42");
  CHECK(sealed.key_id == "k1");
  CHECK(sealed.text.rfind("v1.", 0) == 0);
  CHECK(sealed.text.find("hunter2") == std::string::npos);
  // "v1." + base64url of 12 nonce + 7 ciphertext + 16 tag bytes.
  CHECK(sealed.text.size() == 3 + (12 + 7 + 16) * 4 / 3 + 1);
  CHECK(box.open(sealed, "unit:42") == "hunter2");

  auto empty = box.seal("", "unit:42");
  CHECK_FALSE(empty.text.empty());
  CHECK(box.open(empty, "unit:42").empty());

  std::string binary("\0\xff\n;#", 5);
  CHECK(box.open(box.seal(binary, "unit:1"), "unit:1") == binary);
}

TEST_CASE("the format is AES-256-GCM over nonce, ciphertext and tag") {
  // Made with Python's cryptography package: AESGCM(bytes(range(32))).encrypt(
  // bytes(range(100, 112)), b"hunter2", b"unit:42"), nonce first, in base64url.
  auto box = box_of(std::string("ka ") + key_a);
  sealed_secret known{"ka", "v1.ZGVmZ2hpamtsbW5vIG6wEhybZML2jqqDYo6qvVrN-G2EK-s"};
  CHECK(box.open(known, "unit:42") == "hunter2");
  // The last character carries unused bits; a text with them set is not the canonical one.
  known.text.back() = 't';
  CHECK_THAT(open_error(box, known, "unit:42"), Contains("does not open"));
}

TEST_CASE("two seals of the same value differ") {
  auto box = box_of(std::string("k1 ") + key_a);
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) CHECK(seen.insert(box.seal("same", "unit:1").text).second);
}

TEST_CASE("a sealed secret does not open under another context") {
  auto box = box_of(std::string("k1 ") + key_a);
  auto sealed = box.seal("hunter2", "unit:42");
  CHECK(open_error(box, sealed, "unit:43") == "secret does not open: wrong key or tampered");
  CHECK_THAT(open_error(box, sealed, ""), Contains("does not open"));
}

TEST_CASE("a tampered or truncated secret does not open") {
  auto box = box_of(std::string("k1 ") + key_a);
  auto sealed = box.seal("a database password", "unit:7");
  // Nonce, ciphertext and tag: a change anywhere is caught.
  for (std::size_t at : {std::size_t{5}, sealed.text.size() / 2, sealed.text.size() - 3}) {
    auto tampered = sealed;
    tampered.text = flip_char(sealed.text, at);
    CHECK(open_error(box, tampered, "unit:7") == "secret does not open: wrong key or tampered");
  }
  auto truncated = sealed;
  truncated.text.resize(sealed.text.size() - 4);
  CHECK_THAT(open_error(box, truncated, "unit:7"), Contains("does not open"));
  auto too_short = sealed;
  too_short.text = "v1.AAAA";
  CHECK_THAT(open_error(box, too_short, "unit:7"), Contains("does not open"));
  auto not_base64 = sealed;
  not_base64.text[10] = '+';
  CHECK_THAT(open_error(box, not_base64, "unit:7"), Contains("does not open"));
  auto other_version = sealed;
  other_version.text[1] = '2';
  CHECK_THAT(open_error(box, other_version, "unit:7"), Contains("unknown format"));
}

TEST_CASE("a key with the same id but other bytes does not open") {
  auto sealed = box_of(std::string("k1 ") + key_a).seal("hunter2", "unit:1");
  auto other = box_of(std::string("k1 ") + key_b);
  CHECK(open_error(other, sealed, "unit:1") == "secret does not open: wrong key or tampered");
}

TEST_CASE("a secret sealed with an unknown key names the key") {
  auto sealed = box_of(std::string("old-2023 ") + key_a).seal("hunter2", "unit:1");
  auto box = box_of(std::string("new-2024 ") + key_b);
  CHECK(open_error(box, sealed, "unit:1") == "secret sealed with unknown key 'old-2023'");
  // An id no key file could hold is not echoed.
  sealed.key_id = "bad id\n";
  CHECK_THAT(open_error(box, sealed, "unit:1"), !Contains("bad id"));
}

TEST_CASE("the last key seals and older keys still open") {
  auto before = box_of(std::string("zz-old ") + key_a);
  auto old_sealed = before.seal("old password", "unit:1");

  // Current is the last line, not the greatest id.
  auto after = box_of(std::string("zz-old ") + key_a + "\naa-new " + key_b + "\n");
  CHECK(after.current_key_id() == "aa-new");
  auto new_sealed = after.seal("new password", "unit:2");
  CHECK(new_sealed.key_id == "aa-new");
  CHECK(after.open(old_sealed, "unit:1") == "old password");
  CHECK(after.open(new_sealed, "unit:2") == "new password");
  CHECK_THAT(open_error(before, new_sealed, "unit:2"), Contains("unknown key 'aa-new'"));
}

TEST_CASE("no keys: nothing seals, an empty text still opens") {
  secret_box box;
  CHECK_FALSE(box.has_keys());
  CHECK(box.current_key_id().empty());
  CHECK_THROWS_AS(box.seal("x", "unit:1"), std::runtime_error);
  CHECK(box.open(sealed_secret{}, "unit:1").empty());
  CHECK(box.open(sealed_secret{"k1", ""}, "unit:1").empty());
  CHECK_THAT(open_error(box, sealed_secret{"k1", "v1.AAAA"}, "unit:1"), Contains("unknown key"));
}

TEST_CASE("the key file is read when private and refused when others can read it") {
  apono::test::temp_dir dir("apono-secret-box");
  auto path = dir.path / "store.keys";
  apono::common::write_private_file(
      path, std::string("# rotated yearly; newest last\n\nk1 ") + key_a + "\r\n  k2\t" + key_b);
  auto box = secret_box::from_file(path);
  CHECK(box.current_key_id() == "k2");
  CHECK(box.open(box.seal("hunter2", "unit:1"), "unit:1") == "hunter2");

  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    try {
      (void)secret_box::from_file(path);
      FAIL("accepted mode " << mode);
    } catch (const std::runtime_error& e) {
      std::string what = e.what();
      CHECK_THAT(what, Contains("chmod 600 " + path.string()));
      CHECK_THAT(what, Contains("0600 or stricter"));
      CHECK_THAT(what, !Contains(key_a));
    }
  }
  REQUIRE(::chmod(path.c_str(), 0400) == 0);
  CHECK(secret_box::from_file(path).current_key_id() == "k2");

  try {
    (void)secret_box::from_file(dir.path / "missing.keys");
    FAIL("accepted a missing file");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(e.what(), Contains("missing.keys") && Contains("No such file"));
  }
  CHECK_THROWS_WITH(secret_box::from_file(dir.path), Contains("not a regular file"));
}

TEST_CASE("a key file's line number is named") {
  apono::test::temp_dir dir("apono-secret-box");
  auto path = dir.path / "store.keys";
  apono::common::write_private_file(path, std::string("k1 ") + key_a + "\n# next\nk2 c2hvcnQ=\n");
  try {
    (void)secret_box::from_file(path);
    FAIL("accepted a short key");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == path.string() +
                                       " line 3: the key is 5 bytes, not 32 (make one with "
                                       "`openssl rand -base64 32`)");
  }
}

TEST_CASE("malformed key lines are refused with the line number and never the key") {
  const std::string a = std::string("k1 ") + key_a + "\n";
  CHECK_THAT(error_of(a + "k2\n"), Contains("test keys line 2: expected `ID BASE64`"));
  CHECK_THAT(error_of(a + key_b + "\n"), Contains("line 2: expected `ID BASE64`"));
  CHECK_THAT(error_of(a + "k2 " + key_b + " extra"), Contains("line 2: expected `ID BASE64`"));
  // A key in the id's place is not echoed.
  auto swapped = error_of(a + "\n" + key_b + " k2");
  CHECK_THAT(swapped, Contains("line 3: the key id must be 1-32 characters"));
  CHECK_THAT(swapped, !Contains(key_b));
  CHECK_THAT(error_of(a + "k/2 " + key_b), Contains("line 2: the key id must be"));
  CHECK_THAT(error_of(a + std::string(33, 'k') + " " + key_b), Contains("line 2: the key id"));
  CHECK(box_of(std::string(32, 'k') + " " + key_b).current_key_id() == std::string(32, 'k'));
  CHECK_THAT(error_of(a + "k2 not*base64"), Contains("line 2: the key is not base64"));
  // Padding is required, as `openssl rand -base64 32` prints it.
  CHECK_THAT(error_of(std::string("k1 ") + std::string(key_a).substr(0, 43)),
             Contains("line 1: the key is not base64"));
  // The url alphabet is not the key file's.
  std::string url_alphabet = key_b;
  std::replace(url_alphabet.begin(), url_alphabet.end(), '/', '_');
  CHECK_THAT(error_of("k1 " + url_alphabet), Contains("line 1: the key is not base64"));
  CHECK_THAT(error_of(a + "k2 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"),
             Contains("line 2: the key is 33 bytes, not 32"));
  CHECK_THAT(error_of(a + "k2 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ=="),
             Contains("line 2: the key is 34 bytes, not 32"));
  CHECK_THAT(error_of(a + "\nk1 " + key_b), Contains("line 3: key id 'k1' repeats line 1"));
  CHECK_THAT(error_of("# only a comment\n\n"), Contains("test keys: no keys"));
  CHECK_THAT(error_of(""), Contains("no keys"));
  for (const auto& text : {a + "k2", a + "k1 " + key_b, a + "k2 c2hvcnQ="})
    CHECK_THAT(error_of(text), !Contains(key_a) && !Contains(key_b));
}

TEST_CASE("from_text also takes `;` between lines") {
  auto box = secret_box::from_text(std::string(" # env ; k1 ") + key_a + ";;k2 " + key_b + ";",
                                   "APONO_STORE_KEYS");
  CHECK(box.current_key_id() == "k2");
  auto sealed = box.seal("hunter2", "unit:9");
  CHECK(box.open(sealed, "unit:9") == "hunter2");
  CHECK(box.open(box_of(std::string("k1 ") + key_a).seal("x", "unit:9"), "unit:9") == "x");
  try {
    (void)secret_box::from_text(std::string("k1 ") + key_a + ";k2 c2hvcnQ=", "APONO_STORE_KEYS");
    FAIL("accepted a short key");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(e.what(), Contains("APONO_STORE_KEYS line 2: the key is 5 bytes"));
  }
}

TEST_CASE("a key file's `;` is not a separator") {
  apono::test::temp_dir dir("apono-secret-box");
  auto path = dir.path / "store.keys";
  apono::common::write_private_file(path,
                                    std::string("k1 ") + key_a + ";k2 " + key_b + "\nk3 " + key_b);
  CHECK_THROWS_WITH(secret_box::from_file(path), Contains("line 1: expected `ID BASE64`"));
}

TEST_CASE("a generated key line parses back") {
  auto line = secret_box::generate_key_line("2024-06.a_1");
  CHECK(line.rfind("2024-06.a_1 ", 0) == 0);
  CHECK(line.size() == 12 + 44);
  CHECK(line.back() == '=');
  CHECK(line.find('\n') == std::string::npos);
  auto box = box_of(line);
  CHECK(box.current_key_id() == "2024-06.a_1");
  CHECK(box.open(box.seal("hunter2", "unit:3"), "unit:3") == "hunter2");
  CHECK(secret_box::generate_key_line("k") != secret_box::generate_key_line("k"));
  // Two generated keys are two keys: one does not open the other's secret.
  auto first = box_of(secret_box::generate_key_line("k"));
  auto second = box_of(secret_box::generate_key_line("k"));
  CHECK_THAT(open_error(second, first.seal("x", "unit:1"), "unit:1"), Contains("does not open"));
  CHECK_THROWS_AS(secret_box::generate_key_line(""), std::runtime_error);
  CHECK_THROWS_AS(secret_box::generate_key_line("has space"), std::runtime_error);
  CHECK_THROWS_AS(secret_box::generate_key_line(std::string(33, 'k')), std::runtime_error);
}

TEST_CASE("a box copies, and copies open what the original sealed") {
  auto box = box_of(std::string("k1 ") + key_a + "\nk2 " + key_b);
  auto sealed = box.seal("hunter2", "unit:1");
  secret_box copy = box;
  CHECK(copy.open(sealed, "unit:1") == "hunter2");
  secret_box assigned;
  assigned = copy;
  CHECK(assigned.current_key_id() == "k2");
  CHECK(assigned.open(sealed, "unit:1") == "hunter2");
}
