// Who is who between Slack and apono. A Slack user is an apono user by an explicit mapping in
// `notifications.slack.users`, else by their Slack profile email (users.info), when it equals a
// user's `email` in the broker's config (case-insensitive); Slack only shows an email the person
// confirmed. The other way (whom to send a direct message), by the mapping reversed, else
// users.lookupByEmail. Answers are cached for a few minutes, so a click does not wait on Slack
// twice; a config reload empties the cache.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "broker/config_holder.hpp"
#include "broker/slack/web_api.hpp"
#include "common/time.hpp"

namespace apono::broker::slack {

/// The outcome of a lookup.
struct lookup {
  std::optional<std::string> id;  ///< the apono user name, or the Slack user id
  /// Why there is none: `users_not_found`, `no email in the broker's config`, or a transport or
  /// Slack error (`ratelimited`, ...) for which the caller may try again later.
  std::string error;
  bool retryable = false;  ///< the error is Slack's or the network's, not a missing person
};

/// Maps users both ways. Thread-safe.
class directory {
 public:
  /// Uses `api` for users.info and users.lookupByEmail; both must outlive the directory.
  directory(web_api& api, config_holder& cfg, const common::clock& clk);

  /// The apono user that Slack user `slack_id` is.
  [[nodiscard]] lookup apono_user(const std::string& slack_id);
  /// The Slack user id of apono user `user`, for a direct message.
  [[nodiscard]] lookup slack_user(const std::string& user);

 private:
  // Empties the caches when the config was reloaded since the last lookup (mutex_ held).
  void forget_if_reloaded(const std::shared_ptr<const config>& cfg);

  struct cached {
    lookup value;
    common::time_point until;
  };
  web_api& api_;
  config_holder& cfg_;
  const common::clock& clock_;
  std::mutex mutex_;
  std::map<std::string, cached> by_slack_, by_user_;
  std::shared_ptr<const config> seen_config_;  // the config the caches were filled under
};

}  // namespace apono::broker::slack
