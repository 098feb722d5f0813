// The Microsoft Teams channel: a POST of the notice's Adaptive Card to a Workflows webhook URL
// (a Teams channel's "Send webhook alerts to a channel" workflow). Answers are read as the
// webhook channel reads them: 2xx delivered (Workflows answer 202), 410 disables the endpoint,
// anything else, a timeout or a TLS failure is retried, Retry-After (429) honoured.
#pragma once

#include "broker/notify/channel.hpp"
#include "common/time.hpp"

namespace apono::broker::notify {

/// The Teams channel.
class teams_channel final : public channel {
 public:
  /// Reads Retry-After dates against `clk`.
  explicit teams_channel(const common::clock& clk) : clock_(clk) {}
  [[nodiscard]] std::string_view name() const override { return "teams"; }
  [[nodiscard]] attempt_result attempt(const delivery& d, const notifications_config& cfg) override;

 private:
  const common::clock& clock_;
};

}  // namespace apono::broker::notify
