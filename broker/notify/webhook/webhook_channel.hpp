// Webhooks per the Standard Webhooks specification: a POST of the stored body with
// `webhook-id` (the delivery's, the same on every attempt), `webhook-timestamp` (this attempt's)
// and `webhook-signature` (one `v1,` signature per configured secret). HTTPS is verified against
// the endpoint's `ca_file` or the system's store; redirects are not followed.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "broker/notify/channel.hpp"
#include "common/time.hpp"

namespace apono::broker::notify {

/// The webhook channel.
class webhook_channel final : public channel {
 public:
  /// Timestamps attempts with `clk`.
  explicit webhook_channel(const common::clock& clk) : clock_(clk) {}
  [[nodiscard]] std::string_view name() const override { return "webhook"; }
  [[nodiscard]] attempt_result attempt(const delivery& d, const notifications_config& cfg) override;

 private:
  const common::clock& clock_;
};

/// What an HTTP answer means for a delivery, for every channel that POSTs (webhooks, Teams): 2xx
/// delivered, 410 gone (the endpoint is disabled), anything else failed, with its Retry-After
/// (as sent, read against `now`).
[[nodiscard]] attempt_result http_answer(int status, std::string_view retry_after,
                                         common::time_point now);

/// A Retry-After value (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) as a delay from `now`;
/// nullopt when absent or unreadable. A date in the past is no delay.
[[nodiscard]] std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                                         common::time_point now);

}  // namespace apono::broker::notify
