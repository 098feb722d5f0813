// Process counters exposed on /metrics in the Prometheus text format.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace apono::broker {

/// Notification channels, in the order their counters are kept.
inline constexpr std::array<std::string_view, 4> notify_channels{"webhook", "email", "teams",
                                                                 "slack"};

/// What became of a notification attempt.
enum class delivery_outcome : std::size_t {
  delivered,  ///< the receiver took it
  retried,    ///< it failed and another attempt is scheduled
  dead,       ///< it failed for good (maximum age, 410 Gone, endpoint removed)
};

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
  /// Notification attempts by channel (notify_channels) and outcome (delivery_outcome).
  std::array<std::array<std::atomic<std::uint64_t>, 3>, notify_channels.size()> deliveries{};

  /// Counts one answered request with `status`.
  void count_http(int status) {
    ++http_requests;
    auto cls = static_cast<std::size_t>(status / 100);
    if (cls < http_by_class.size()) ++http_by_class[cls];
  }
  /// Counts one attempt of `channel` that ended as `outcome` (unknown channels are not counted).
  void count_delivery(std::string_view channel, delivery_outcome outcome) {
    for (std::size_t i = 0; i < notify_channels.size(); ++i)
      if (notify_channels[i] == channel) ++deliveries[i][static_cast<std::size_t>(outcome)];
  }
};

}  // namespace apono::broker
