// Duration parsing: a bare number means hours (the Apono CLI's convention), units otherwise.
#include "common/duration.hpp"

#include <cmath>
#include <cstdlib>

namespace apono::common {
namespace {

constexpr double max_seconds = 366.0 * 24 * 3600;

// Reads a non-negative decimal number at `pos`; advances `pos` past it.
std::optional<double> read_number(std::string_view s, std::size_t& pos) {
  std::size_t start = pos;
  bool dot = false, any_digit = false;
  while (pos < s.size()) {
    char c = s[pos];
    if (c >= '0' && c <= '9') {
      any_digit = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
    ++pos;
  }
  if (!any_digit || pos - start > 20) return std::nullopt;
  std::string buf(s.substr(start, pos - start));
  return std::strtod(buf.c_str(), nullptr);
}

}  // namespace

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  std::size_t pos = 0;
  double total = 0;
  auto first = read_number(text, pos);
  if (!first) return std::nullopt;
  if (pos == text.size()) {
    total = *first * 3600.0;  // a bare number is hours
  } else {
    int last_rank = 4;  // units must come in order h, m, s, each at most once
    double value = *first;
    while (true) {
      if (pos >= text.size()) return std::nullopt;
      int rank;
      double scale;
      switch (text[pos]) {
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
      total += value * scale;
      ++pos;
      if (pos == text.size()) break;
      auto next = read_number(text, pos);
      if (!next) return std::nullopt;
      value = *next;
    }
  }
  if (!std::isfinite(total) || total > max_seconds) return std::nullopt;
  auto secs = static_cast<std::int64_t>(std::llround(total));
  if (secs <= 0) return std::nullopt;
  return std::chrono::seconds{secs};
}

std::string format_duration(std::chrono::seconds d) {
  auto s = d.count();
  if (s <= 0) return "0s";
  std::string out;
  if (s >= 3600) out += std::to_string(s / 3600) + "h", s %= 3600;
  if (s >= 60) out += std::to_string(s / 60) + "m", s %= 60;
  if (s > 0) out += std::to_string(s) + "s";
  return out;
}

}  // namespace apono::common
