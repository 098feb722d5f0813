// A way to deliver notifications: webhooks, email, Microsoft Teams (Slack later). The
// dispatcher owns the outbox, the order, the retries and the bookkeeping; a channel only makes
// one attempt and says how it went.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "broker/notify/notify_config.hpp"
#include "broker/store/store.hpp"

namespace apono::broker::notify {

/// How one attempt went.
struct attempt_result {
  enum class outcome {
    delivered,  ///< the receiver took it (webhooks: a 2xx)
    failed,     ///< try again later (an error answer, a timeout, no connection, TLS)
    gone,       ///< the receiver wants no more (webhooks: 410): disable the endpoint
    dropped,    ///< it cannot be sent at all (the endpoint is no longer configured): dead now
  };
  outcome result = outcome::failed;  ///< what happened
  int http_status = 0;               ///< the answer's status; 0 when none came
  std::string error{};  ///< why it failed, one line, safe to store and show (never a secret)
  std::optional<std::chrono::milliseconds> retry_after{};  ///< what the receiver asked for
};

/// One channel. attempt() is called from several dispatcher threads at once.
class channel {
 public:
  virtual ~channel() = default;
  /// Its name in deliveries and metrics (`webhook`, `email`, `teams`).
  [[nodiscard]] virtual std::string_view name() const = 0;
  /// Makes one attempt to deliver `d` to its endpoint as configured in `cfg`, within
  /// cfg.timeout; never throws.
  [[nodiscard]] virtual attempt_result attempt(const delivery& d,
                                               const notifications_config& cfg) = 0;
};

}  // namespace apono::broker::notify
