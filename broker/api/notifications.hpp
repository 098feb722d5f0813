// The notification endpoints of the API (admins only): deliveries with their status, attempts
// and last error, redelivery, endpoints with their state, a test event, enabling an endpoint
// that a 410 disabled. docs/api.md, "Notifications".
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "broker/config_holder.hpp"
#include "broker/http/server.hpp"
#include "broker/service.hpp"
#include "broker/store/store.hpp"
#include "common/time.hpp"

namespace apono::broker::api {

/// Answers /api/v1/notifications/...; thread-safe.
class notifications {
 public:
  /// `changed` is called after a change the dispatcher should act on now.
  notifications(config_holder& cfg, store& st, const common::clock& clk)
      : config_(cfg), store_(st), clock_(clk) {}
  /// Called after a test, a redelivery or an enable (the broker wakes its dispatcher).
  void on_change(std::function<void()> f) { changed_ = std::move(f); }
  /// Answers one request whose path segments are `seg` (`api`, `v1`, `notifications`, ...)
  /// for the authenticated `who`; throws common::api_error.
  [[nodiscard]] http::response handle(const http::request& req, const std::vector<std::string>& seg,
                                      const std::map<std::string, std::string>& query,
                                      const caller& who) const;

 private:
  config_holder& config_;
  store& store_;
  const common::clock& clock_;
  std::function<void()> changed_;
};

}  // namespace apono::broker::api
