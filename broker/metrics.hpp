// Process counters exposed on /metrics in the Prometheus text format.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace apono::broker {

/// Counters bumped from any thread.
struct metrics {
  std::atomic<std::uint64_t> http_requests{0};                ///< requests answered
  std::array<std::atomic<std::uint64_t>, 6> http_by_class{};  ///< index = status / 100
  std::atomic<std::uint64_t> grants{0};                       ///< units granted at a target
  std::atomic<std::uint64_t> grant_failures{0};               ///< failed grant attempts
  std::atomic<std::uint64_t> revocations{0};                  ///< units revoked at a target
  std::atomic<std::uint64_t> revoke_failures{0};              ///< failed revoke attempts
  std::atomic<std::uint64_t> config_reloads{0};               ///< successful SIGHUP reloads
  std::atomic<std::uint64_t> config_reload_failures{0};       ///< rejected SIGHUP reloads

  /// Counts one answered request with `status`.
  void count_http(int status) {
    ++http_requests;
    auto cls = static_cast<std::size_t>(status / 100);
    if (cls < http_by_class.size()) ++http_by_class[cls];
  }
};

}  // namespace apono::broker
