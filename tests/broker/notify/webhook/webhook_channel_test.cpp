// The webhook channel's own decisions: Retry-After in both of its forms, and an endpoint that
// left the config. Attempts against real receivers are in the notify integration tests.
#include "broker/notify/webhook/webhook_channel.hpp"

#include <catch2/catch.hpp>

using namespace apono;
using namespace apono::broker::notify;
using namespace std::chrono_literals;

TEST_CASE("Retry-After: delay-seconds or an HTTP date, as a delay from now") {
  // Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example.
  const auto now = common::from_unix_ms(784111777000);
  CHECK(parse_retry_after("120", now) == 120s);
  CHECK(parse_retry_after(" 0 ", now) == 0s);
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now) == 30s);
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now) == 0s);          // past: no delay
  CHECK(parse_retry_after("99999999999", now) == std::chrono::hours{24 * 366});  // capped
  CHECK_FALSE(parse_retry_after("", now));
  CHECK_FALSE(parse_retry_after("-5", now));
  CHECK_FALSE(parse_retry_after("1.5", now));
  CHECK_FALSE(parse_retry_after("soon", now));
  CHECK_FALSE(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now));  // obsolete form
}

TEST_CASE("an endpoint no longer configured: dropped at once, nothing sent") {
  common::manual_clock clock(common::from_unix_ms(1'800'000'000'000));
  webhook_channel channel(clock);
  broker::delivery d;
  d.endpoint = "gone-from-config";
  d.webhook_id = "msg_1_00000000";
  d.payload = "{}";
  auto r = channel.attempt(d, notifications_config{});
  CHECK(r.result == attempt_result::outcome::dropped);
  CHECK(r.error == "webhook 'gone-from-config' is no longer configured");
  CHECK(r.http_status == 0);
}
