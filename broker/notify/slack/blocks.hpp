// The Slack messages of a notification, in Block Kit: the approver's direct message (who asks
// for what, for how long, why, through which flow, with Approve and Reject), the same message
// once decided (the outcome and who decided, no buttons), the requester's message (the
// request's current status and the buttons that fit it) and the replies in its thread. Built
// from the notice (notice.cpp's wording, shared with email and Teams) and kept within Slack's
// limits: every text is cut to what its block takes.
#pragma once

#include <boost/json.hpp>

#include <string>
#include <string_view>

#include "broker/notify/notice.hpp"
#include "broker/slack/blocks.hpp"

namespace apono::broker::notify::slack_blocks {

/// The action_ids of the buttons; the Slack app's interaction handlers rely on them, and each
/// button's value is the request id (`AR-00012`).
inline constexpr std::string_view approve_action = "apono_approve";
inline constexpr std::string_view reject_action = "apono_reject";
inline constexpr std::string_view details_action = "apono_details";
inline constexpr std::string_view revoke_action = "apono_revoke";
inline constexpr std::string_view request_again_action = "apono_request_again";

/// A message: the notification text (what Slack shows in a notification and to screen
/// readers) and its blocks.
struct message {
  std::string text;           ///< the fallback text
  boost::json::array blocks;  ///< Block Kit blocks
};

/// An approver's message about a request waiting for them (request.pending_approval; a
/// request.reminder when there is no earlier message to reply to), with Approve and Reject.
[[nodiscard]] message approval_request(const notice& n);
/// An approver's message after the decision `n` (approved, rejected, failed, withdrawn):
/// the outcome and who decided, with the reason; no buttons.
[[nodiscard]] message approval_outcome(const notice& n);
/// The requester's message about their request as it stands after `n`, with the buttons that
/// fit its status: Access details and Revoke while Active, Request again after Expired,
/// Revoked or Rejected.
[[nodiscard]] message requester_status(const notice& n);
/// A reply in a thread: what `n` says happened.
[[nodiscard]] message thread_reply(const notice& n);

/// `text` with Slack's control characters escaped (`&`, `<`, `>`), so a justification cannot
/// mention @channel or forge a link: the app's mrkdwn escape, shared.
using slack::blocks::escape;

}  // namespace apono::broker::notify::slack_blocks
