// RFC 3339 in and out.
#include "common/time.hpp"

#include <catch2/catch.hpp>

using namespace apono::common;

TEST_CASE("rfc3339 round trip") {
  auto t = from_unix_ms(1'800'000'000'123);
  auto s = format_rfc3339(t);
  CHECK(s == "2027-01-15T08:00:00.123Z");
  CHECK(parse_rfc3339(s) == t);
  CHECK(parse_rfc3339("2027-01-15T08:00:00Z") == from_unix_ms(1'800'000'000'000));
  CHECK(parse_rfc3339("2027-01-15T08:00:00.5+00:00") == from_unix_ms(1'800'000'000'500));
  for (const char* bad : {"", "2027-01-15", "2027-13-01T00:00:00Z", "2027-01-15T08:00:00+01:00",
                          "2027-01-15T08:00:00.Z", "x027-01-15T08:00:00Z"})
    CHECK_FALSE(parse_rfc3339(bad).has_value());
}

TEST_CASE("manual clock") {
  manual_clock c(from_unix_ms(1000));
  c.advance(std::chrono::milliseconds{500});
  CHECK(to_unix_ms(c.now()) == 1500);
}
