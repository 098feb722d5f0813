// Every encoder function decodes back to what went in, appends without disturbing what is
// already in the buffer, and a few messages match bytes written out from the protocol docs.
#include "proxy/pg/encoder.hpp"

#include <catch2/catch.hpp>

#include <string>

#include "proxy/pg/decoder.hpp"
#include "tests/proxy/pg/wire.hpp"

namespace {

using namespace apono::proxy::pg;
using apono::test::as_bytes;
using apono::test::only_startup;
using namespace std::string_literals;

std::string as_string(bytes b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

/// Decodes the one typed message `wire` must consist of.
message only_message(const std::string& wire) {
  message m;
  std::size_t used = 0;
  REQUIRE(decode_message(as_bytes(wire), m, used, max_auth_message_length) == decode_status::ready);
  REQUIRE(used == wire.size());
  return m;
}

}  // namespace

TEST_CASE("append_i32 round-trips through read_i32") {
  for (std::int32_t v : {0, 1, -1, 255, 256, 196608, 80877103, INT32_MIN, INT32_MAX}) {
    std::string out = "x";
    append_i32(out, v);
    REQUIRE(out.size() == 5);
    CHECK(read_i32(reinterpret_cast<const std::uint8_t*>(out.data()) + 1) == v);
  }
}

TEST_CASE("append_startup round-trips") {
  const std::vector<std::pair<std::string, std::string>> params = {
      {"user", "alice"}, {"database", "app"}, {"application_name", ""}, {"options", "-c x=1"}};
  std::string wire;
  append_startup(wire, params);
  auto p = only_startup(wire);
  CHECK(p.type == startup_packet::kind::startup);
  CHECK(p.protocol == protocol_3_0);
  CHECK(p.params == params);

  std::string empty;
  append_startup(empty, {});
  CHECK(only_startup(empty).params.empty());
}

TEST_CASE("StartupMessage bytes as the protocol documents them") {
  std::string wire;
  append_startup(wire, {{"user", "postgres"}});
  // Int32 length 23, Int32 196608 (3.0), "user\0", "postgres\0", final "\0".
  CHECK(wire == "\x00\x00\x00\x17\x00\x03\x00\x00user\0postgres\0\0"s);
}

TEST_CASE("append_ssl_request and append_cancel_request round-trip, with exact bytes") {
  std::string ssl;
  append_ssl_request(ssl);
  CHECK(ssl == "\x00\x00\x00\x08\x04\xd2\x16\x2f"s);  // 8, 80877103
  CHECK(only_startup(ssl).type == startup_packet::kind::ssl_request);

  std::string cancel;
  append_cancel_request(cancel, 0x01020304, -2);
  CHECK(cancel == "\x00\x00\x00\x10\x04\xd2\x16\x2e\x01\x02\x03\x04\xff\xff\xff\xfe"s);
  auto c = only_startup(cancel);
  CHECK(c.type == startup_packet::kind::cancel_request);
  CHECK(c.cancel_pid == 0x01020304);
  CHECK(c.cancel_key == -2);
}

TEST_CASE("authentication requests round-trip, with exact bytes") {
  std::string ok;
  append_auth_ok(ok);
  CHECK(ok == "R\x00\x00\x00\x08\x00\x00\x00\x00"s);  // AuthenticationOk
  auto m = only_message(ok);
  CHECK(m.type == 'R');
  auto r = parse_auth_request(m.body);
  REQUIRE(r);
  CHECK(r->code == 0);

  std::string clear;
  append_auth_cleartext_request(clear);
  CHECK(clear == "R\x00\x00\x00\x08\x00\x00\x00\x03"s);  // AuthenticationCleartextPassword
  r = parse_auth_request(only_message(clear).body);
  REQUIRE(r);
  CHECK(r->code == 3);
}

TEST_CASE("append_password round-trips") {
  for (const char* pw : {"", "secret", "md5d41d8cd98f00b204e9800998ecf8427e", "pa ss,word=\x7f"}) {
    std::string wire;
    append_password(wire, pw);
    auto m = only_message(wire);
    CHECK(m.type == 'p');
    CHECK(parse_password(m.body) == pw);
  }
  std::string wire;
  append_password(wire, "abc");
  CHECK(wire ==
        "p\x00\x00\x00\x08"
        "abc\0"s);
}

TEST_CASE("SASL messages carry the mechanism and the data") {
  const std::string first = "n,,n=,r=rOprNGfwEbeRWgbNEkqO";
  std::string wire;
  append_sasl_initial(wire, "SCRAM-SHA-256", first);
  auto m = only_message(wire);
  CHECK(m.type == 'p');
  // SASLInitialResponse: String mechanism, Int32 length of the data, the data.
  const std::string body = as_string(m.body);
  REQUIRE(body.size() == 14 + 4 + first.size());
  CHECK(body.substr(0, 14) == "SCRAM-SHA-256\0"s);
  CHECK(read_i32(m.body.data() + 14) == static_cast<std::int32_t>(first.size()));
  CHECK(body.substr(18) == first);

  std::string response;
  append_sasl_response(response, "c=biws,r=abc,p=xyz");
  auto r = only_message(response);
  CHECK(r.type == 'p');
  CHECK(as_string(r.body) == "c=biws,r=abc,p=xyz");

  std::string empty;
  append_sasl_response(empty, "");
  CHECK(only_message(empty).body.empty());
}

TEST_CASE("make_fields orders S, V, C, M, then optional D and H") {
  auto plain = make_fields("FATAL", "28P01", "password authentication failed");
  CHECK(plain == error_fields{{'S', "FATAL"},
                              {'V', "FATAL"},
                              {'C', "28P01"},
                              {'M', "password authentication failed"}});
  auto full = make_fields("NOTICE", "00000", "m", "d", "h");
  REQUIRE(full.size() == 6);
  CHECK(full[4] == std::pair<char, std::string>{'D', "d"});
  CHECK(full[5] == std::pair<char, std::string>{'H', "h"});
  auto hint_only = make_fields("WARNING", "01000", "m", {}, "h");
  REQUIRE(hint_only.size() == 5);
  CHECK(hint_only[4].first == 'H');
}

TEST_CASE("append_error and append_notice round-trip") {
  const auto fields =
      make_fields("FATAL", "57P01", "access expired", "grant g-1 ended", "ask again");
  std::string e;
  append_error(e, fields);
  auto m = only_message(e);
  CHECK(m.type == 'E');
  CHECK(parse_error_fields(m.body) == fields);

  std::string n;
  append_notice(n, fields);
  m = only_message(n);
  CHECK(m.type == 'N');
  CHECK(parse_error_fields(m.body) == fields);

  std::string none;
  append_error(none, {});
  CHECK(none == "E\x00\x00\x00\x05\x00"s);
  CHECK(parse_error_fields(only_message(none).body) == error_fields{});

  std::string small;
  append_error(small, {{'S', "ERROR"}, {'C', "42000"}});
  CHECK(small == "E\x00\x00\x00\x13SERROR\0C42000\0\0"s);
}

TEST_CASE("append_backend_key, append_parameter_status and append_ready_for_query") {
  std::string k;
  append_backend_key(k, {4242, -7});
  auto m = only_message(k);
  CHECK(m.type == 'K');
  auto key = parse_backend_key(m.body);
  REQUIRE(key);
  CHECK(key->pid == 4242);
  CHECK(key->key == -7);

  std::string s;
  append_parameter_status(s, "server_version", "15.4");
  m = only_message(s);
  CHECK(m.type == 'S');
  CHECK(as_string(m.body) ==
        "server_version\0"
        "15.4\0"s);

  for (char status : {'I', 'T', 'E'}) {
    std::string z;
    append_ready_for_query(z, status);
    CHECK(z == "Z\x00\x00\x00\x05"s + status);  // ReadyForQuery
    m = only_message(z);
    CHECK(m.type == 'Z');
    CHECK(as_string(m.body) == std::string(1, status));
  }
}

TEST_CASE("appending keeps earlier messages, and a stream decodes in order") {
  std::string wire = "prefix";
  append_auth_ok(wire);
  append_parameter_status(wire, "client_encoding", "UTF8");
  append_backend_key(wire, {1, 2});
  append_ready_for_query(wire, 'I');
  REQUIRE(wire.starts_with("prefix"));

  bytes in = as_bytes(wire).subspan(6);
  std::string types;
  while (!in.empty()) {
    message m;
    std::size_t used = 0;
    REQUIRE(decode_message(in, m, used, max_auth_message_length) == decode_status::ready);
    types += m.type;
    in = in.subspan(used);
  }
  CHECK(types == "RSKZ");
}
