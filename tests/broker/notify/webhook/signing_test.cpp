// Standard Webhooks signatures: the spec's reference vector and a second one made with the
// `standardwebhooks` npm package (1.3.0), secrets' limits, and rotation.
#include "broker/notify/webhook/signing.hpp"

#include <catch2/catch.hpp>

#include "common/secrets.hpp"

using namespace apono::broker::notify;

TEST_CASE("signatures match the reference implementation's") {
  // The example of the Standard Webhooks libraries' tests.
  auto key = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  REQUIRE(key);
  CHECK(sign({*key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})") ==
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  // Made with `new Webhook(secret).sign(id, new Date(1700000000000), body)` in node.
  auto other = parse_secret("whsec_YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU=");
  REQUIRE(other);
  CHECK(*other == "abcdefghijklmnopqrstuvwxyz012345");
  CHECK(sign({*other}, "msg_7_0a1b2c3d", 1700000000, R"({"type":"request.created"})") ==
        "v1,hpSGpCrP+kFtz5NV+uVf94dEesrPFg2FS8HiN++TieY=");
}

TEST_CASE("during a rotation every secret signs, in order, space-separated") {
  auto a = *parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  auto b = *parse_secret("whsec_YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU=");
  auto both = sign({a, b}, "msg_1", 1700000000, "{}");
  CHECK(both == sign({a}, "msg_1", 1700000000, "{}") + " " + sign({b}, "msg_1", 1700000000, "{}"));
  // Anything signed changes the signature.
  CHECK(sign({a}, "msg_1", 1700000000, "{}") != sign({a}, "msg_2", 1700000000, "{}"));
  CHECK(sign({a}, "msg_1", 1700000000, "{}") != sign({a}, "msg_1", 1700000001, "{}"));
  CHECK(sign({a}, "msg_1", 1700000000, "{}") != sign({a}, "msg_1", 1700000000, "{ }"));
}

TEST_CASE("secrets are whsec_ and strict base64 of 24 to 64 bytes") {
  using apono::common::base64;
  CHECK(parse_secret("whsec_" + base64(std::string(24, 'k'))));
  CHECK(parse_secret("whsec_" + base64(std::string(64, 'k'))));
  CHECK_FALSE(parse_secret("whsec_" + base64(std::string(23, 'k'))));
  CHECK_FALSE(parse_secret("whsec_" + base64(std::string(65, 'k'))));
  CHECK_FALSE(parse_secret(base64(std::string(32, 'k'))));                   // no prefix
  CHECK_FALSE(parse_secret("whsk_" + base64(std::string(32, 'k'))));         // a signing key
  CHECK_FALSE(parse_secret("whsec_" + base64(std::string(32, 'k')) + "x"));  // not base64
  CHECK_FALSE(parse_secret("whsec_"));
  auto made = generate_secret();
  CHECK(made.starts_with("whsec_"));
  REQUIRE(parse_secret(made));
  CHECK(parse_secret(made)->size() == 32);
  CHECK(generate_secret() != made);
}
