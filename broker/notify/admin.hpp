// What admins do with notifications, for the API (api/notifications.cpp) and through it the
// CLI: list endpoints and deliveries, send a test event, redeliver, enable an endpoint again.
// Each change is one transaction with its audit event. Errors are common::api_error.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "broker/config.hpp"
#include "broker/store/store.hpp"
#include "common/time.hpp"

namespace apono::broker::notify {

/// An endpoint as the API shows it.
struct endpoint_view {
  std::string name;     ///< configured name
  std::string channel;  ///< `webhook`, `teams` or `email`
  std::string url;      ///< scheme, host and port (see webhook_config); email: `smtp://host:port`
  std::vector<std::string> events;                ///< the filter
  std::optional<common::time_point> disabled_at;  ///< when it was disabled; none: enabled
  std::string disabled_reason;                    ///< why
};

/// The configured endpoints with their state, in config order.
[[nodiscard]] std::vector<endpoint_view> list_endpoints(store& st, const config& cfg);

/// Sends a `notification.test` event to endpoint `name` (whatever its filter) at the request
/// of `by`: an audit event and its delivery, due now (by email: to `by`'s address). 404 for an
/// unknown endpoint, 409 for a disabled one or when `by` has no email address.
[[nodiscard]] delivery send_test(store& st, const config& cfg, const common::clock& clk,
                                 const std::string& name, const std::string& by);

/// Queues delivery `id` again, due now with the same webhook-id and body, counting attempts
/// and the maximum age afresh; audited. 404 when there is no such delivery, 409 when its
/// endpoint is disabled or no longer configured.
[[nodiscard]] delivery redeliver(store& st, const config& cfg, const common::clock& clk,
                                 std::int64_t id, const std::string& by);

/// Enables endpoint `name` again (deliveries are made for events from now on); audited. 404
/// for an unknown endpoint; enabling an enabled one changes nothing.
[[nodiscard]] endpoint_view enable_endpoint(store& st, const config& cfg, const common::clock& clk,
                                            const std::string& name, const std::string& by);

}  // namespace apono::broker::notify
