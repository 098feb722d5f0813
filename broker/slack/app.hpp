// The Slack app's side in aponod: `POST /slack/commands` (`/apono ...`) and
// `POST /slack/interactions` (button clicks, the request form's changes and submissions, the
// search of long lists). Every request is checked by slack::check_request before its body is
// read; Slack is answered at once (well inside its 3 s) and the slow work (Web API calls,
// creating, deciding, provisioning) runs afterwards on the app's own threads, replying through
// response_url, chat.postEphemeral, a direct message or views.update. A Slack user acts as the
// apono user slack::directory maps them to, with the service's own rules; what they do is
// audited with `via: slack` and their Slack user id. The handlers are split by job:
// commands.cpp (slash commands), interactions.cpp (clicks and modals), this file's app.cpp
// (the gate, identities, replies, the work queue).
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "broker/config_holder.hpp"
#include "broker/http/server.hpp"
#include "broker/service.hpp"
#include "broker/slack/payload.hpp"
#include "broker/slack/slack_config.hpp"
#include "broker/slack/users.hpp"
#include "broker/slack/web_api.hpp"
#include "broker/store/store.hpp"
#include "common/time.hpp"

namespace apono::broker::slack {

/// Serves the Slack endpoints. Thread-safe.
class app {
 public:
  /// Reads `notifications.slack` from `config` at each request (a reload takes effect at
  /// once); every reference must outlive the app.
  app(config_holder& config, service& svc, store& st, const common::clock& clk);
  /// Waits for the work already acknowledged.
  ~app();
  app(const app&) = delete;
  app& operator=(const app&) = delete;

  /// True for the paths this app answers.
  [[nodiscard]] static bool handles(std::string_view path);
  /// Answers a request to `path` (one of handles()); blocks on the store, so run it on the
  /// router's work pool. Throws common::api_error for bad input (the router answers 4xx), and
  /// not_found when Slack is not configured.
  [[nodiscard]] http::response handle(const http::request& req, const std::string& path);

 private:
  /// Where a reply to the person goes: response_url first, else an ephemeral in `channel`,
  /// else a direct message.
  struct reply_to {
    std::string user;          ///< Slack user id
    std::string channel;       ///< where they acted; may be empty
    std::string response_url;  ///< may be empty
  };
  /// The apono caller a Slack user is, or the sentence telling them why there is none.
  struct identity {
    std::optional<caller> who;
    std::string refusal;
  };

  /// The Web API client and user directory for one version of the Slack settings.
  struct client {
    client(const slack_config& c, config_holder& config, const common::clock& clk)
        : cfg(c), api(c), users(api, config, clk) {}
    slack_config cfg;
    web_api api;
    directory users;
  };

  // app.cpp
  std::shared_ptr<client> current();
  void later(std::function<void()> fn);
  bool first_time(const std::string& trigger_id);
  identity who(const std::string& slack_user);
  void tell(const reply_to& to, const boost::json::object& message);
  api_result call(std::string_view method, const boost::json::object& args);

  // commands.cpp
  http::response on_command(const command& c);
  void open_form(const command& c);
  void my_requests(const command& c);

  // interactions.cpp
  http::response on_interaction(const boost::json::object& p);
  http::response on_form_submission(const boost::json::object& p, const caller& who);
  http::response on_modal_submission(const boost::json::object& p, std::string_view callback);
  void on_form_change(const boost::json::object& p);
  void on_button(std::string_view action, const std::string& request_id, const reply_to& to,
                 const std::string& trigger_id);
  void decide(std::string_view action, const caller& who, std::int64_t id,
              const std::string& reason, const reply_to& to);
  void open_modal(const std::string& trigger_id, const boost::json::object& view,
                  const reply_to& to);

  config_holder& config_;
  service& service_;
  store& store_;
  const common::clock& clock_;
  std::mutex mutex_;
  std::shared_ptr<const config> seen_;  ///< the config client_ was made for
  std::shared_ptr<client> client_;
  std::map<std::string, std::chrono::steady_clock::time_point> triggers_;  ///< seen, for retries
  boost::asio::thread_pool work_{4};
};

}  // namespace apono::broker::slack
