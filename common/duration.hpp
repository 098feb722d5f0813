// Grant durations as users type them: hours with decimals (`0.75`) or `90s`, `45m`, `1h30m`.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace apono::common {

/// Parses a duration; nullopt when malformed, zero, negative or over 366 days.
[[nodiscard]] std::optional<std::chrono::seconds> parse_duration(std::string_view text);
/// Formats compactly: `90s` -> `1m30s`, `3600s` -> `1h`, `0s` -> `0s`.
[[nodiscard]] std::string format_duration(std::chrono::seconds d);

}  // namespace apono::common
