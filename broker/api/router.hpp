// The HTTP API: maps method and path to the lifecycle service, JSON in and out, and turns
// every api_error into its status and `{"error":{"code","message"}}` body in one place.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <optional>
#include <span>

#include "broker/api/login.hpp"
#include "broker/api/notifications.hpp"
#include "broker/api/work_pool.hpp"
#include "broker/config_holder.hpp"
#include "broker/event_hub.hpp"
#include "broker/http/server.hpp"
#include "broker/metrics.hpp"
#include "broker/portal/assets.hpp"
#include "broker/portal/sessions.hpp"
#include "broker/service.hpp"
#include "broker/slack/app.hpp"
#include "broker/store/store.hpp"

namespace apono::broker::api {

/// Routes API requests. Thread-safe; one instance serves all connections.
class router {
 public:
  /// `ready` reports whether the broker can serve (store reachable, scheduler running).
  router(config_holder& cfg, service& svc, store& st, metrics& m, event_hub& hub,
         std::function<bool()> ready);
  /// Handles one request; never throws.
  boost::asio::awaitable<http::response> handle(http::request req);
  /// The longest an /events long-poll waits (tests shorten it).
  void set_max_poll(std::chrono::milliseconds d) { max_poll_ = d; }
  /// Publishes `ca`'s public key at /api/v1/ssh/ca (null: 503 there).
  void set_ssh_ca(const ssh::user_ca* ca) { ssh_ca_ = ca; }
  /// Serves the web portal from `assets` (which must outlive the router); none: its pages
  /// answer 503. Call before serving.
  void set_portal_assets(std::span<const portal::asset> assets) {
    portal_files_ = portal::files(assets);
  }
  /// Adds `f()`'s members to /readyz's `details` (the Slack app's auth.test); they inform and
  /// never make the broker unready. Call before serving.
  void set_readiness_details(std::function<boost::json::object()> f) {
    readiness_details_ = std::move(f);
  }
  /// Calls `f` after an admin's notification change (a test, a redelivery, an enable) so the
  /// dispatcher acts on it at once.
  void on_notifications_change(std::function<void()> f) { notifications_.on_change(std::move(f)); }
  /// Serves /slack/commands and /slack/interactions with `slack` (which must outlive the
  /// router); none (Slack not configured): those paths answer 404. Call before serving.
  void set_slack(slack::app* slack) { slack_ = slack; }

 private:
  /// Who is calling, and with what.
  struct identity {
    caller who;                              ///< the user
    std::optional<portal::session> browser;  ///< the session, when its cookie authenticated
  };
  http::response dispatch(const http::request& req, const std::string& path,
                          const std::map<std::string, std::string>& query);
  /// A bearer token when the request has an Authorization header, else the session cookie;
  /// `activity`: a cookie's use counts against its idle timeout. Throws api_error.
  identity authenticate(const http::request& req, bool activity = true) const;
  http::response browser_session(const http::request& req);
  std::string render_metrics() const;

  config_holder& config_;
  service& service_;
  store& store_;
  metrics& metrics_;
  event_hub& hub_;
  std::function<bool()> ready_;
  std::function<boost::json::object()> readiness_details_;
  std::chrono::milliseconds max_poll_{25000};
  const ssh::user_ca* ssh_ca_ = nullptr;
  slack::app* slack_ = nullptr;
  common::system_clock clock_;
  login login_{config_, store_, clock_};
  portal::sessions sessions_{config_, store_, clock_};
  notifications notifications_{config_, store_, clock_};
  portal::files portal_files_;
  // Blocking work of every request: 16 threads keep a slow target call (credential reset,
  // cloud credentials) from holding up the rest; 4,096 waiting is beyond any one broker's
  // clients, and 10 s is well inside the CLI's 30-s timeout.
  work_pool pool_{16, 4096, std::chrono::seconds{10}};
};

}  // namespace apono::broker::api
