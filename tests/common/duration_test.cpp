// Duration parsing as users type it.
#include "common/duration.hpp"

#include <catch2/catch.hpp>

using apono::common::format_duration;
using apono::common::parse_duration;
using std::chrono::seconds;

TEST_CASE("durations: hours with decimals and unit forms") {
  CHECK(parse_duration("0.75") == seconds{2700});
  CHECK(parse_duration("1") == seconds{3600});
  CHECK(parse_duration("90s") == seconds{90});
  CHECK(parse_duration("45m") == seconds{2700});
  CHECK(parse_duration("1h30m") == seconds{5400});
  CHECK(parse_duration("1h30m15s") == seconds{5415});
  CHECK(parse_duration(" 2h ") == seconds{7200});
  CHECK(parse_duration("1.5h") == seconds{5400});
}

TEST_CASE("durations: malformed input is refused") {
  for (const char* bad : {"", "0", "0s", "-1", "h", "1x", "1m1h", "1h1h", "1.2.3", "abc", "1 h",
                          "99999999999999999999999", "367d", "1e3"})
    CHECK_FALSE(parse_duration(bad).has_value());
}

TEST_CASE("durations: formatting") {
  CHECK(format_duration(seconds{90}) == "1m30s");
  CHECK(format_duration(seconds{3600}) == "1h");
  CHECK(format_duration(seconds{5400}) == "1h30m");
  CHECK(format_duration(seconds{0}) == "0s");
  CHECK(format_duration(seconds{48 * 3600}) == "48h");
}
