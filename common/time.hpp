// Time as the project sees it: millisecond wall-clock points, an injectable clock, and RFC 3339.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace apono::common {

/// A wall-clock instant with millisecond precision (UTC).
using time_point = std::chrono::sys_time<std::chrono::milliseconds>;

/// Source of the current time; a fake one lets tests jump days ahead.
class clock {
 public:
  virtual ~clock() = default;
  /// The current instant.
  [[nodiscard]] virtual time_point now() const = 0;
};

/// The real wall clock.
class system_clock final : public clock {
 public:
  [[nodiscard]] time_point now() const override;
};

/// A clock that stands still until told to move; thread-safe.
class manual_clock final : public clock {
 public:
  /// Starts at `start`.
  explicit manual_clock(time_point start) : ms_(start.time_since_epoch().count()) {}
  [[nodiscard]] time_point now() const override;
  /// Moves the clock forward by `d`.
  void advance(std::chrono::milliseconds d) { ms_ += d.count(); }
  /// Sets the clock to `t`.
  void set(time_point t) { ms_ = t.time_since_epoch().count(); }

 private:
  std::atomic<std::int64_t> ms_;
};

/// Formats as `2026-11-22T15:04:05.123Z` (milliseconds always present).
[[nodiscard]] std::string format_rfc3339(time_point t);
/// Parses RFC 3339 in UTC (`Z` or `+00:00`), with or without fractional seconds.
[[nodiscard]] std::optional<time_point> parse_rfc3339(std::string_view s);
/// Milliseconds since the Unix epoch, the store's representation.
[[nodiscard]] inline std::int64_t to_unix_ms(time_point t) {
  return t.time_since_epoch().count();
}
/// The inverse of to_unix_ms.
[[nodiscard]] inline time_point from_unix_ms(std::int64_t ms) {
  return time_point{std::chrono::milliseconds{ms}};
}

}  // namespace apono::common
