// libFuzzer target for grant durations. The whole input is the text a user typed; its first
// eight bytes also make a count of seconds to format. Besides crashes and sanitizer reports it
// aborts when an invariant fails: an accepted duration lies within 1 s..366 days, surrounding
// spaces change nothing, what format_duration writes parses back to the same value, whole-number
// inputs such as `1d2h3m4s` or `5` (hours) give exactly the sum of their parts, and the output
// of format_duration is always canonical (`XhYmZs`, minutes and seconds under 60).
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "common/duration.hpp"

namespace {

using apono::common::format_duration;
using apono::common::parse_duration;
using std::chrono::seconds;

constexpr std::int64_t max_seconds = 366LL * 24 * 3600;

[[noreturn]] void fail(const char* what, std::string_view input) {
  std::fprintf(stderr, "duration_fuzz: %s (input '%.*s')\n", what, static_cast<int>(input.size()),
               input.data());
  std::abort();
}

void check(bool ok, const char* what, std::string_view input) {
  if (!ok) fail(what, input);
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/// The exact value of text made only of whole numbers and units in the order d, h, m, s, each
/// at most once (or one bare number of hours), each number short enough to add up exactly;
/// nullopt for anything else, which the exact check then skips.
std::optional<std::int64_t> whole_number_value(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.empty()) return std::nullopt;
  std::int64_t total = 0;
  int last_rank = 4;
  std::size_t i = 0;
  bool bare = true;
  while (i < s.size()) {
    std::size_t start = i;
    std::int64_t n = 0;
    while (i < s.size() && is_digit(s[i])) {
      if (i - start == 12) return std::nullopt;
      n = n * 10 + (s[i++] - '0');
    }
    if (i == start) return std::nullopt;
    if (i == s.size()) {
      if (!bare) return std::nullopt;  // a number after a unit needs a unit of its own
      return n * 3600;
    }
    bare = false;
    int rank = 0;
    std::int64_t scale = 0;
    switch (s[i]) {
      case 'd':
        rank = 3, scale = 86400;
        break;
      case 'h':
        rank = 2, scale = 3600;
        break;
      case 'm':
        rank = 1, scale = 60;
        break;
      case 's':
        rank = 0, scale = 1;
        break;
      default:
        return std::nullopt;
    }
    if (rank >= last_rank) return std::nullopt;
    last_rank = rank;
    total += n * scale;
    ++i;
  }
  return total;
}

/// format_duration's output: `0s`, or non-empty `[Nh][Mm][Ss]` with M, S in 1..59.
bool canonical(const std::string& f, std::int64_t secs) {
  if (secs <= 0) return f == "0s";
  if (f.empty()) return false;
  std::size_t i = 0;
  std::int64_t total = 0;
  int last_rank = 3;
  while (i < f.size()) {
    std::size_t start = i;
    std::int64_t n = 0;
    while (i < f.size() && is_digit(f[i])) {
      if (n > (INT64_MAX - 9) / 10) return false;
      n = n * 10 + (f[i++] - '0');
    }
    if (i == start || i == f.size() || n == 0 || (f[start] == '0')) return false;
    const int rank = f[i] == 'h' ? 2 : f[i] == 'm' ? 1 : f[i] == 's' ? 0 : -1;
    if (rank < 0 || rank >= last_rank || (rank < 2 && n >= 60)) return false;
    last_rank = rank;
    const std::int64_t scale = rank == 2 ? 3600 : rank == 1 ? 60 : 1;
    if (n > (INT64_MAX - total) / scale) return false;
    total += n * scale;
    ++i;
  }
  return total == secs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const auto parsed = parse_duration(text);
  if (parsed) {
    const auto n = parsed->count();
    check(n >= 1 && n <= max_seconds, "accepted a duration outside 1 s..366 days", text);
    const std::string f = format_duration(*parsed);
    check(canonical(f, n), "format_duration is not canonical", text);
    check(parse_duration(f) == parsed, "format_duration does not parse back", text);
  }
  // Spaces around a duration are trimmed; anything else must not change because of them.
  check(parse_duration(" " + std::string(text) + "  ") == parsed, "surrounding spaces matter",
        text);
  if (const auto exact = whole_number_value(text)) {
    const bool in_range = *exact >= 1 && *exact <= max_seconds;
    check(parsed.has_value() == in_range, "whole-number input accepted or refused wrongly", text);
    if (parsed)
      check(parsed->count() == *exact, "whole-number input parsed to another value", text);
  }

  // Any count of seconds, including negative and huge ones, formats canonically; those in
  // range parse back, those beyond 366 days are refused.
  std::int64_t secs = 0;
  std::memcpy(&secs, data, std::min<std::size_t>(size, sizeof secs));
  const std::string f = format_duration(seconds{secs});
  check(canonical(f, secs), "format_duration of raw seconds is not canonical", f);
  if (secs >= 1 && secs <= max_seconds)
    check(parse_duration(f) == seconds{secs}, "formatted seconds do not parse back", f);
  if (secs > max_seconds) check(!parse_duration(f), "over 366 days accepted", f);
  return 0;
}
