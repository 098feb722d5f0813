// The Slack channel: direct messages through the Slack app's bot. An approver gets a message
// with Approve and Reject for each request waiting for them, updated (chat.update) to the
// outcome and who decided once it is decided; a requester gets a message when they request,
// a reply in its thread for every status change, and the message itself updated to the
// current status with the buttons that fit it. Each delivery (`slack:<user>`) is one person's.
//
// Posted messages are recorded in the store (slack_messages) by the delivery that posted them,
// right after Slack answers: a retried delivery finds its post there and does not post again,
// and later events find the message to update or to reply to. Slack's answers map onto the
// outbox's: 429 (with Retry-After), 5xx, no answer and the errors an admin can fix (a revoked
// token, a missing scope) are retried; a message Slack refuses for good (`users_not_found`,
// `not_in_channel`, `invalid_blocks`, ...) is dead at once, its last error naming why.
#pragma once

#include <boost/json.hpp>

#include <memory>
#include <mutex>

#include "broker/config_holder.hpp"
#include "broker/notify/channel.hpp"
#include "broker/slack/users.hpp"
#include "broker/slack/web_api.hpp"
#include "broker/store/store.hpp"
#include "common/time.hpp"

namespace apono::broker::notify {

/// The Slack channel. attempt() and check_auth() may run on several threads at once.
class slack_channel final : public channel {
 public:
  /// Records posted messages in `st`; reads users and the Slack section from `cfg`.
  slack_channel(store& st, config_holder& cfg, const common::clock& clk);
  ~slack_channel() override;
  [[nodiscard]] std::string_view name() const override { return "slack"; }
  [[nodiscard]] attempt_result attempt(const delivery& d, const notifications_config& cfg) override;

  /// Calls auth.test with the current config and keeps the answer for readiness(); logs it.
  void check_auth();
  /// `{"ok": true, "team": ..., "bot_user": ...}`, `{"ok": false, "error": ...}`, or null when
  /// no Slack app is configured (or it was not checked yet).
  [[nodiscard]] boost::json::value readiness() const;

 private:
  struct client;
  std::shared_ptr<client> client_for(const std::shared_ptr<const config>& cfg);

  store& store_;
  config_holder& config_;
  const common::clock& clock_;
  mutable std::mutex mutex_;
  std::shared_ptr<client> client_;  // for the config it was made with
  boost::json::value readiness_;
};

}  // namespace apono::broker::notify
