// PostgreSQL 15's startup checks as the proxy applies them: the order of the checks, the
// messages, and parse_bool's rules for `replication`.
#include "proxy/pg/startup_rules.hpp"

#include <catch2/catch.hpp>

#include "proxy/pg/encoder.hpp"
#include "tests/proxy/pg/wire.hpp"

namespace {

using namespace apono::proxy::pg;
using apono::test::as_bytes;
using apono::test::be32;
using namespace std::string_literals;

startup_packet packet(std::uint32_t version, const std::string& body) {
  return apono::test::only_startup(be32(static_cast<std::uint32_t>(8 + body.size())) +
                                   be32(version) + body);
}

// The (code, message) of the last message of `reply`, an ErrorResponse.
std::pair<std::string, std::string> last_error(const std::string& reply) {
  std::size_t at = 0;
  message m;
  for (;;) {
    std::size_t used = 0;
    REQUIRE(decode_message(as_bytes(reply).subspan(at), m, used, 1 << 16) == decode_status::ready);
    at += used;
    if (at == reply.size()) break;
  }
  REQUIRE(m.type == 'E');
  auto f = parse_error_fields(m.body);
  REQUIRE(f);
  return {field(*f, 'C'), field(*f, 'M')};
}

}  // namespace

TEST_CASE("parse_pg_bool takes PostgreSQL's words, any case, and unique prefixes") {
  for (const char* t : {"true", "TRUE", "t", "tr", "yes", "y", "on", "ON", "1"})
    CHECK(parse_pg_bool(t) == true);
  for (const char* f : {"false", "f", "no", "n", "off", "of", "0"})
    CHECK(parse_pg_bool(f) == false);
  for (const char* bad : {"", "o", "truex", "2", "10", "banana", "database", "yess", "offf"})
    CHECK_FALSE(parse_pg_bool(bad).has_value());
}

TEST_CASE(
    "a good StartupMessage proceeds, with NegotiateProtocolVersion when PostgreSQL sends it") {
  auto ok = check_startup(packet(0x30000, "user\0alice\0\0"s));
  CHECK(ok.proceed);
  CHECK(ok.reply.empty());
  CHECK_FALSE(ok.replication);
  auto newer = check_startup(packet(0x30002, "user\0alice\0_pq_.x\0y\0\0"s));
  CHECK(newer.proceed);
  std::string expected;
  append_negotiate_protocol_version(expected, 0, {"_pq_.x"});
  CHECK(newer.reply == expected);
  CHECK(check_startup(packet(0x30000, "user\0a\0replication\0database\0\0"s)).replication);
  CHECK(check_startup(packet(0x30000, "user\0a\0replication\0on\0\0"s)).replication);
  CHECK_FALSE(check_startup(packet(0x30000, "user\0a\0replication\0off\0\0"s)).replication);
}

TEST_CASE("refusals come in PostgreSQL's order with its codes and words") {
  auto v4 = check_startup(packet(0x40000, "garbage"));
  CHECK_FALSE(v4.proceed);
  CHECK(last_error(v4.reply) ==
        std::pair<std::string, std::string>{
            "0A000", "unsupported frontend protocol 4.0: server supports 3.0 to 3.0"});
  auto v2 = check_startup(packet(0x20000, "user\0a\0\0"s));
  CHECK(v2.reply ==
        "EFATAL:  unsupported frontend protocol 2.0: server supports 3.0 to 3.0\n"s + '\0');
  // An invalid replication value read before the layout broke is reported first.
  auto repl = check_startup(packet(0x30000, "replication\0x\0user"s));
  CHECK(last_error(repl.reply).first == "22023");
  auto layout = check_startup(packet(0x30000, "user\0a\0replication"s));
  CHECK(last_error(layout.reply) ==
        std::pair<std::string, std::string>{
            "08P01", "invalid startup packet layout: expected terminator as last byte"});
  // The version is answered before the missing user; the missing user ends it.
  auto nouser = check_startup(packet(0x30001, "database\0d\0\0"s));
  CHECK_FALSE(nouser.proceed);
  CHECK(nouser.reply[0] == 'v');
  CHECK(last_error(nouser.reply) ==
        std::pair<std::string, std::string>{"28000",
                                            "no PostgreSQL user name specified in startup packet"});
  CHECK_FALSE(check_startup(packet(0x30000, "user\0\0\0"s)).proceed);
}
