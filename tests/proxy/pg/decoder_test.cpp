// The wire decoder over whole messages, every prefix of them, random pieces, malformed
// lengths and strings, and 200,000 random byte strings. Messages are built here by hand, not
// with the encoder, so the two are checked against each other only in encoder_test.cpp.
#include "proxy/pg/decoder.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "tests/proxy/pg/wire.hpp"

namespace {

using namespace apono::proxy::pg;
using apono::test::as_bytes;
using apono::test::be32;
using apono::test::only_startup;
using namespace std::string_literals;

/// A typed message: type byte, length counting itself, body.
std::string typed(char type, const std::string& body) {
  return type + be32(static_cast<std::uint32_t>(body.size() + 4)) + body;
}

/// A startup-phase packet: length counting itself, code, rest.
std::string untyped(std::uint32_t code, const std::string& rest) {
  return be32(static_cast<std::uint32_t>(rest.size() + 8)) + be32(code) + rest;
}

constexpr std::size_t big = 1 << 20;

decode_status startup_status(const std::string& s, std::size_t* used = nullptr) {
  startup_packet p;
  std::size_t u = 0;
  auto st = decode_startup(as_bytes(s), p, u);
  if (used != nullptr) *used = u;
  return st;
}

decode_status message_status(const std::string& s, std::size_t max = big) {
  message m;
  std::size_t u = 0;
  return decode_message(as_bytes(s), m, u, max);
}

/// Feeds `wire` followed by `tail` to `decode` whole, byte by byte (every prefix) and in
/// random pieces: need_more on every strict prefix, then ready spanning exactly `wire`.
template <typename Decode>
void check_all_splits(const std::string& wire, Decode decode) {
  INFO("message of " << wire.size() << " bytes");
  std::size_t used = 0;
  for (std::size_t n = 0; n < wire.size(); ++n) {
    INFO("prefix " << n);
    REQUIRE(decode(wire.substr(0, n), used) == decode_status::need_more);
  }
  used = 0;
  REQUIRE(decode(wire, used) == decode_status::ready);
  CHECK(used == wire.size());
  used = 0;
  REQUIRE(decode(wire + "Z\0\0\0\5I"s + wire, used) == decode_status::ready);
  CHECK(used == wire.size());

  std::mt19937 rng(static_cast<std::uint32_t>(wire.size()));
  for (int round = 0; round < 20; ++round) {
    std::string buffer;
    std::size_t fed = 0;
    decode_status st = decode_status::need_more;
    while (st == decode_status::need_more) {
      REQUIRE(fed < wire.size());
      auto piece = std::uniform_int_distribution<std::size_t>(1, wire.size() - fed)(rng);
      buffer += wire.substr(fed, piece);
      fed += piece;
      st = decode(buffer, used);
    }
    REQUIRE(st == decode_status::ready);
    CHECK(fed == wire.size());
    CHECK(used == wire.size());
  }
}

void check_startup_splits(const std::string& wire) {
  check_all_splits(wire, [](const std::string& s, std::size_t& used) {
    startup_packet p;
    return decode_startup(as_bytes(s), p, used);
  });
}

void check_message_splits(const std::string& wire) {
  check_all_splits(wire, [](const std::string& s, std::size_t& used) {
    message m;
    return decode_message(as_bytes(s), m, used, big);
  });
}

}  // namespace

TEST_CASE("read_i32 is big-endian and signed") {
  const std::uint8_t a[] = {0x00, 0x03, 0x00, 0x00};
  const std::uint8_t b[] = {0xff, 0xff, 0xff, 0xfe};
  const std::uint8_t c[] = {0x7f, 0xff, 0xff, 0xff};
  CHECK(read_i32(a) == protocol_3_0);
  CHECK(read_i32(b) == -2);
  CHECK(read_i32(c) == 0x7fffffff);
}

TEST_CASE("StartupMessage decodes with its parameters in order") {
  const std::string wire =
      untyped(0x00030000, "user\0alice\0database\0app db\0application_name\0\0"s + '\0');
  check_startup_splits(wire);
  auto p = only_startup(wire);
  CHECK(p.type == startup_packet::kind::startup);
  CHECK(p.protocol == protocol_3_0);
  REQUIRE(p.params.size() == 3);
  CHECK(p.params[0] == std::pair<std::string, std::string>{"user", "alice"});
  CHECK(p.params[1] == std::pair<std::string, std::string>{"database", "app db"});
  CHECK(p.params[2] == std::pair<std::string, std::string>{"application_name", ""});
  CHECK(p.param("user") == "alice");
  CHECK(p.param("application_name") == "");
  CHECK_FALSE(p.param("options"));
}

TEST_CASE("StartupMessage without parameters and with a newer 3.x minor version") {
  auto none = only_startup(untyped(0x00030000, "\0"s));
  CHECK(none.params.empty());
  check_startup_splits(untyped(0x00030002, "user\0bob\0\0"s));
  CHECK(only_startup(untyped(0x00030002, "user\0bob\0\0"s)).protocol == 0x00030002);
}

TEST_CASE("SSLRequest, GSSENCRequest and CancelRequest decode") {
  const std::string ssl = untyped(ssl_request_code, "");
  const std::string gss = untyped(gssenc_request_code, "");
  const std::string cancel = untyped(cancel_request_code, be32(4242) + be32(0xdeadbeef));
  check_startup_splits(ssl);
  check_startup_splits(gss);
  check_startup_splits(cancel);
  CHECK(only_startup(ssl).type == startup_packet::kind::ssl_request);
  CHECK(only_startup(ssl).protocol == ssl_request_code);
  CHECK(only_startup(gss).type == startup_packet::kind::gssenc_request);
  auto c = only_startup(cancel);
  CHECK(c.type == startup_packet::kind::cancel_request);
  CHECK(c.cancel_pid == 4242);
  CHECK(c.cancel_key == static_cast<std::int32_t>(0xdeadbeef));
}

TEST_CASE("SSLRequest bytes from the protocol documentation") {
  // Int32(8), Int32(80877103): 04 d2 16 2f.
  CHECK(only_startup("\x00\x00\x00\x08\x04\xd2\x16\x2f"s).type ==
        startup_packet::kind::ssl_request);
}

TEST_CASE("startup packets with impossible lengths are bad, early when possible") {
  CHECK(startup_status(be32(0xffffffff) + be32(0x00030000)) == decode_status::bad);  // -1
  CHECK(startup_status(be32(0x80000000)) == decode_status::bad);
  CHECK(startup_status(be32(0x7fffffff)) == decode_status::bad);
  CHECK(startup_status(be32(0)) == decode_status::bad);
  CHECK(startup_status(be32(4)) == decode_status::bad);
  CHECK(startup_status(be32(7)) == decode_status::bad);
  // PostgreSQL's limit is on the packet after its length word.
  CHECK(startup_status(be32(max_startup_length + 5)) == decode_status::bad);
  CHECK(startup_status(be32(max_startup_length + 4)) == decode_status::need_more);
  // A prefix of the length field already rules these out; Terminate ('X') is one of them.
  CHECK(startup_status("\x80"s) == decode_status::bad);
  CHECK(startup_status("\x01"s) == decode_status::bad);
  CHECK(startup_status("X"s + be32(4)) == decode_status::bad);
  CHECK(startup_status("\x00\x00\x00"s) == decode_status::need_more);
  CHECK(startup_status("\x00\x01"s) == decode_status::bad);  // at least 65536
  CHECK(startup_status(""s) == decode_status::need_more);

  // Exactly at the limit is allowed.
  std::string name(max_startup_length + 4 - 8 - 4, 'x');
  const std::string at_limit = untyped(0x00030000, name + "\0v\0\0"s);
  REQUIRE(at_limit.size() == max_startup_length + 4);
  CHECK(startup_status(at_limit) == decode_status::ready);
}

TEST_CASE("only a CancelRequest has a fixed length; SSL and GSS requests are known by code") {
  CHECK(startup_status(be32(8) + be32(cancel_request_code)) == decode_status::bad);
  CHECK(startup_status(be32(20) + be32(cancel_request_code) + std::string(12, 'x')) ==
        decode_status::bad);
  CHECK(startup_status(be32(12) + be32(cancel_request_code)) == decode_status::bad);
  // PostgreSQL answers these whatever their length, and skips the rest of the packet.
  CHECK(only_startup(be32(12) + be32(ssl_request_code) + be32(0)).type ==
        startup_packet::kind::ssl_request);
  CHECK(only_startup(be32(9) + be32(gssenc_request_code) + "x").type ==
        startup_packet::kind::gssenc_request);
}

TEST_CASE("other versions and unknown codes are ready, unparsed, for the caller to refuse") {
  auto v2 = only_startup(untyped(0x00020000, "user\0a\0\0"s));
  CHECK(v2.protocol == 0x00020000);
  CHECK(v2.params.empty());
  CHECK_FALSE(v2.layout_ok);
  CHECK(startup_status(be32(100) + be32(0x00020000)) == decode_status::need_more);
  CHECK(only_startup(untyped(0x00040000, "\0"s)).protocol == 0x00040000);
  CHECK(only_startup(untyped(0x04d2162e + 10, "")).protocol == 0x04d2162e + 10);  // 1234.5688
  auto v31 = only_startup(untyped(0x00030001, "user\0a\0\0"s));
  CHECK(v31.layout_ok);
  CHECK(v31.param("user") == "a");
}

TEST_CASE("StartupMessage layouts are judged as PostgreSQL judges them") {
  auto layout = [](const std::string& body) { return only_startup(untyped(0x00030000, body)); };
  // Unterminated name, a name without a value, missing final NUL, bytes after it, nothing.
  CHECK_FALSE(layout("user"s).layout_ok);
  CHECK_FALSE(layout("user\0"s).layout_ok);
  CHECK_FALSE(layout("user\0alice"s).layout_ok);
  CHECK_FALSE(layout("user\0alice\0"s).layout_ok);
  CHECK_FALSE(layout("user\0alice\0\0x"s).layout_ok);
  CHECK_FALSE(layout("\0\0"s).layout_ok);
  CHECK_FALSE(layout("").layout_ok);
  // The parameters read before the layout broke are kept: PostgreSQL acts on them first.
  CHECK(layout("replication\0banana\0user"s).param("replication") == "banana");
  // PostgreSQL stops at any single last byte, NUL or not.
  CHECK(layout("user\0alice\0\0"s).layout_ok);
  CHECK(layout("user\0alice\0Z"s).layout_ok);
}

TEST_CASE("typed messages of every kind decode whole, byte by byte and in pieces") {
  const std::vector<std::string> wires = {
      typed('R', be32(0)),                                              // AuthenticationOk
      typed('R', be32(3)),                                              // cleartext
      typed('R', be32(5) + "\x01\x02\x03\x04"s),                        // md5
      typed('R', be32(10) + "SCRAM-SHA-256\0SCRAM-SHA-256-PLUS\0\0"s),  // SASL
      typed('R', be32(11) + "r=abc,s=QQ==,i=4096"),                     // SASLContinue
      typed('R', be32(12) + "v=xyz"),                                   // SASLFinal
      typed('E', "SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed\0\0"s),
      typed('N', "SNOTICE\0Mhello\0\0"s),
      typed('K', be32(1234) + be32(5678)),
      typed('S', "server_version\00015.4\0"s),
      typed('Z', "I"),
      typed('p', "secret\0"s),
      typed('p', "SCRAM-SHA-256\0"s + be32(3) + "n,,"),
      typed('D', "\0\1\0\0\0\0011"s),
      typed('Q', "SELECT 1\0"s),
      typed('X', ""),  // Terminate: zero-length body
      typed('1', ""),  // ParseComplete
  };
  for (const auto& w : wires) check_message_splits(w);

  message m;
  std::size_t used = 0;
  const std::string k = typed('K', be32(1234) + be32(5678));
  REQUIRE(decode_message(as_bytes(k), m, used, big) == decode_status::ready);
  CHECK(m.type == 'K');
  CHECK(used == 13);
  CHECK(m.body.size() == 8);
  CHECK(m.body.data() == as_bytes(k).data() + 5);
}

TEST_CASE("typed message lengths are checked") {
  CHECK(message_status("Z"s + be32(0xffffffff) + "I") == decode_status::bad);
  CHECK(message_status("Z"s + be32(0x80000000)) == decode_status::bad);
  CHECK(message_status("Z"s + be32(0)) == decode_status::bad);
  CHECK(message_status("Z"s + be32(3)) == decode_status::bad);
  CHECK(message_status("D"s + be32(0x7fffffff)) == decode_status::bad);
  CHECK(message_status("D"s + be32(0x7fffffff), SIZE_MAX) == decode_status::need_more);
  // max_length counts the length field and the body, not the type byte.
  CHECK(message_status("S"s + be32(100), 100) == decode_status::need_more);
  CHECK(message_status("S"s + be32(101), 100) == decode_status::bad);
  CHECK(message_status(typed('S', std::string(96, 'x')), 100) == decode_status::ready);
  // Hopeless prefixes of the length fail before the whole field arrives.
  CHECK(message_status("Z\x80"s) == decode_status::bad);
  CHECK(message_status("Z\x01"s, max_auth_message_length) == decode_status::bad);
  CHECK(message_status("Z\x00\x00\x00"s) == decode_status::need_more);
  CHECK(message_status("Z"s) == decode_status::need_more);
  CHECK(message_status(""s) == decode_status::need_more);
}

TEST_CASE("parse_auth_request by code") {
  auto parse = [](const std::string& body) { return parse_auth_request(as_bytes(body)); };
  auto ok = parse(be32(0));
  REQUIRE(ok);
  CHECK(ok->code == 0);
  REQUIRE(parse(be32(3)));
  CHECK(parse(be32(3))->code == 3);

  auto md5 = parse(be32(5) + "\xde\xad\xbe\xef"s);
  REQUIRE(md5);
  CHECK(md5->code == 5);
  CHECK(md5->md5_salt[0] == 0xde);
  CHECK(md5->md5_salt[3] == 0xef);

  auto sasl = parse(be32(10) + "SCRAM-SHA-256\0SCRAM-SHA-256-PLUS\0\0"s);
  REQUIRE(sasl);
  CHECK(sasl->mechanisms == std::vector<std::string>{"SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"});

  auto cont = parse(be32(11) + "r=abc,s=QQ==,i=4096");
  REQUIRE(cont);
  CHECK(cont->code == 11);
  CHECK(cont->data == "r=abc,s=QQ==,i=4096");
  auto fin = parse(be32(12) + "v=xyz");
  REQUIRE(fin);
  CHECK(fin->data == "v=xyz");

  CHECK_FALSE(parse(""));
  CHECK_FALSE(parse("\0\0\0"s));
  CHECK_FALSE(parse(be32(0) + "x"));
  CHECK_FALSE(parse(be32(3) + "x"));
  CHECK_FALSE(parse(be32(5) + "abc"));
  CHECK_FALSE(parse(be32(5) + "abcde"));
  CHECK_FALSE(parse(be32(10)));
  CHECK_FALSE(parse(be32(10) + "SCRAM-SHA-256"));
  CHECK_FALSE(parse(be32(10) + "SCRAM-SHA-256\0"s));
  CHECK_FALSE(parse(be32(10) + "SCRAM-SHA-256\0\0x"s));
}

TEST_CASE("parse_error_fields, field") {
  auto f =
      parse_error_fields(as_bytes("SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed\0\0"s));
  REQUIRE(f);
  REQUIRE(f->size() == 4);
  CHECK(field(*f, 'C') == "28P01");
  CHECK(field(*f, 'M') == "password authentication failed");
  CHECK(field(*f, 'D') == "");
  CHECK((*f)[0] == std::pair<char, std::string>{'S', "FATAL"});

  auto empty = parse_error_fields(as_bytes("\0"s));
  REQUIRE(empty);
  CHECK(empty->empty());

  CHECK_FALSE(parse_error_fields(as_bytes(""s)));
  CHECK_FALSE(parse_error_fields(as_bytes("SFATAL"s)));
  CHECK_FALSE(parse_error_fields(as_bytes("SFATAL\0"s)));
  CHECK_FALSE(parse_error_fields(as_bytes("S"s)));
  CHECK_FALSE(parse_error_fields(as_bytes("SFATAL\0\0x"s)));
}

TEST_CASE("parse_backend_key and parse_password") {
  auto k = parse_backend_key(as_bytes(be32(77) + be32(0xffffffff)));
  REQUIRE(k);
  CHECK(k->pid == 77);
  CHECK(k->key == -1);
  CHECK_FALSE(parse_backend_key(as_bytes(std::string(7, 'x'))));
  CHECK_FALSE(parse_backend_key(as_bytes(std::string(9, 'x'))));
  CHECK_FALSE(parse_backend_key(as_bytes(""s)));

  CHECK(parse_password(as_bytes("secret\0"s)) == "secret");
  CHECK(parse_password(as_bytes("\0"s)) == "");
  CHECK_FALSE(parse_password(as_bytes("secret"s)));
  CHECK_FALSE(parse_password(as_bytes("sec\0ret\0"s)));
  CHECK_FALSE(parse_password(as_bytes("secret\0\0"s)));
  CHECK_FALSE(parse_password(as_bytes(""s)));
}

TEST_CASE("200,000 random byte strings: no crash, consistent results") {
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> length(0, 300);
  const std::size_t maxes[] = {0, 4, 5, 64, max_auth_message_length, SIZE_MAX};
  std::size_t ready_startups = 0;
  std::size_t ready_messages = 0;

  for (int i = 0; i < 200000; ++i) {
    std::string s(length(rng), '\0');
    for (auto& c : s) c = static_cast<char>(byte(rng));
    // Half the inputs get a plausible header, so the deep paths run as well.
    if (i % 2 == 1 && s.size() >= 8) {
      const auto n =
          static_cast<std::uint32_t>(std::uniform_int_distribution<std::size_t>(0, s.size())(rng));
      switch (i % 8) {
        case 1:  // StartupMessage of names and values from a small alphabet, NULs frequent
          s.replace(0, 8, be32(n) + be32(0x00030000));
          for (std::size_t j = 8; j < s.size(); ++j) s[j] = "\0\0ab"[byte(rng) % 4];
          break;
        case 5: {  // the fixed-length requests, mostly with their right length
          const std::uint32_t codes[] = {ssl_request_code, gssenc_request_code,
                                         cancel_request_code};
          const std::uint32_t code = codes[byte(rng) % 3];
          const std::uint32_t len = byte(rng) % 4 == 0 ? n : code == cancel_request_code ? 16 : 8;
          s.replace(0, 8, be32(len) + be32(code));
          break;
        }
        default:  // a typed message
          s.replace(1, 4, be32(n));
          break;
      }
    }
    const bytes in = as_bytes(s);

    startup_packet p;
    std::size_t used = SIZE_MAX;
    auto st = decode_startup(in, p, used);
    if (st == decode_status::ready) {
      ++ready_startups;
      REQUIRE(used >= 8);
      REQUIRE(used <= in.size());
      startup_packet again;
      std::size_t used_again = 0;
      REQUIRE(decode_startup(in.first(used), again, used_again) == decode_status::ready);
      REQUIRE(used_again == used);
      REQUIRE(again.params == p.params);
    }
    {
      // The decoder looks at a prefix only: a bad prefix stays bad with more bytes, and a
      // prefix that holds a whole packet gives the same packet.
      auto cut = std::uniform_int_distribution<std::size_t>(0, s.size())(rng);
      startup_packet q;
      std::size_t u = 0;
      auto prefix_status = decode_startup(in.first(cut), q, u);
      if (prefix_status == decode_status::bad) REQUIRE(st == decode_status::bad);
      if (prefix_status == decode_status::ready) REQUIRE((st == decode_status::ready && u == used));
    }

    for (auto max : maxes) {
      message m;
      used = SIZE_MAX;
      auto ms = decode_message(in, m, used, max);
      if (ms == decode_status::ready) {
        ++ready_messages;
        REQUIRE(used >= 5);
        REQUIRE(used <= in.size());
        REQUIRE(used - 1 <= max);
        REQUIRE(m.body.data() == in.data() + 5);
        REQUIRE(m.body.size() == used - 5);
        REQUIRE(m.type == s[0]);
      }
      auto cut = std::uniform_int_distribution<std::size_t>(0, s.size())(rng);
      message q;
      std::size_t u = 0;
      auto prefix_status = decode_message(in.first(cut), q, u, max);
      if (prefix_status == decode_status::bad) REQUIRE(ms == decode_status::bad);
      if (prefix_status == decode_status::ready) REQUIRE((ms == decode_status::ready && u == used));
    }

    auto auth = parse_auth_request(in);
    if (auth) REQUIRE(in.size() >= 4);
    auto fields = parse_error_fields(in);
    if (fields) REQUIRE((!s.empty() && s.back() == '\0'));
    auto key = parse_backend_key(in);
    REQUIRE(key.has_value() == (in.size() == 8));
    auto password = parse_password(in);
    if (password) REQUIRE(password->size() + 1 == s.size());
  }
  // The biased half must actually reach the ready paths, or this test proves little.
  CHECK(ready_startups > 100);
  CHECK(ready_messages > 1000);
}
