// A client of Slack's Web API: one method call is a POST of JSON (UTF-8) with the bot token as
// a bearer, answered `{"ok": true, ...}` or `{"ok": false, "error": "..."}`. It makes one
// attempt and says how it went; the caller (the outbox's Slack channel, or the interaction
// handlers) decides whether to retry. HTTP 429 carries Slack's Retry-After.
#pragma once

#include <boost/json.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/slack/slack_config.hpp"

namespace apono::broker::slack {

/// How one call went.
struct api_result {
  int http_status = 0;       ///< 0 when no answer came (connection, TLS, timeout)
  bool ok = false;           ///< the body said `"ok": true`
  std::string error;         ///< Slack's `error` (`not_in_channel`, `ratelimited`, ...), or a
                             ///< one-line transport error; never a token
  boost::json::object body;  ///< the whole answer when it was JSON
  std::optional<std::chrono::milliseconds> retry_after{};  ///< from a 429's Retry-After
};

/// Calls Web API methods. Thread-safe: every call may come from another dispatcher worker.
class web_api {
 public:
  /// Uses `cfg`'s base URL, CA and bot token; connects lazily.
  explicit web_api(slack_config cfg);
  ~web_api();
  web_api(const web_api&) = delete;
  web_api& operator=(const web_api&) = delete;

  /// Calls `method` (`chat.postMessage`) with `args` as its JSON body, within `timeout`;
  /// never throws.
  [[nodiscard]] api_result call(std::string_view method, const boost::json::object& args,
                                std::chrono::milliseconds timeout = std::chrono::seconds{10});
  /// Calls a read method that takes form arguments only (users.info, users.lookupByEmail:
  /// Slack ignores a JSON body there); never throws.
  [[nodiscard]] api_result call_form(std::string_view method,
                                     const std::vector<std::pair<std::string, std::string>>& args,
                                     std::chrono::milliseconds timeout = std::chrono::seconds{10});
  /// POSTs `message` to an interaction's `response_url` (ephemeral replies, replacing the
  /// original message); only URLs under the configured API origin or Slack's hooks host are
  /// accepted. Never throws.
  [[nodiscard]] api_result respond(const std::string& response_url,
                                   const boost::json::object& message,
                                   std::chrono::milliseconds timeout = std::chrono::seconds{5});
  /// The settings it was made with.
  [[nodiscard]] const slack_config& config() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace apono::broker::slack
