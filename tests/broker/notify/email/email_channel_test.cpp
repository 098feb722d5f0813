// The email channel's refusals before any SMTP: a user without an address or no longer in the
// config is not retried (dead at once, the reason in the delivery's last error), and a server
// that cannot be reached is retried.
#include "broker/notify/email/email_channel.hpp"

#include <catch2/catch.hpp>

#include "broker/config.hpp"
#include "broker/config_holder.hpp"
#include "tests/support/process.hpp"

using namespace apono::broker;
using namespace apono::broker::notify;
using outcome = attempt_result::outcome;

namespace {

delivery to(const std::string& endpoint) {
  delivery d;
  d.endpoint = endpoint;
  d.channel = "email";
  d.webhook_id = "msg_1_00000000";
  d.payload = R"({"type":"request.approved","timestamp":"2026-12-06T15:04:05.000Z","version":1,)"
              R"("data":{"request_id":"AR-00001","requester":"alice","actor":"approver"}})";
  return d;
}

}  // namespace

TEST_CASE("no address, no such user, no server: dead at once or retried, with the reason") {
  const int port = apono::test::free_port();
  config_holder holder(parse_config(R"(users:
  - name: alice
  - name: bob
    email: bob@example.com
notifications:
  timeout: 2s
  email: {host: 127.0.0.1, port: )" + std::to_string(port) +
                                        R"(, tls: none, from: apono@example.com}
)",
                                    "test.yaml"));
  email_channel ch(holder);
  const auto& cfg = holder.get()->notifications;

  auto no_address = ch.attempt(to("email:alice"), cfg);
  CHECK(no_address.result == outcome::dropped);
  CHECK(no_address.error == "user alice has no email address in the config (users: email)");

  auto gone = ch.attempt(to("email:zed"), cfg);
  CHECK(gone.result == outcome::dropped);
  CHECK(gone.error == "user zed is no longer in the config");

  auto refused = ch.attempt(to("email:bob"), cfg);
  INFO(refused.error);
  CHECK(refused.result == outcome::failed);
  CHECK(refused.error.starts_with("to bob: cannot reach 127.0.0.1:" + std::to_string(port)));

  notifications_config without;
  CHECK(ch.attempt(to("email:bob"), without).result == outcome::dropped);
}
