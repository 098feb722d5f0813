// What the Slack app shows besides the request form: the help, `/apono my requests`, the
// replies after a submission or a refused click, and the modals the buttons open (reject
// reason, request again, access details). Pure builders over the model;
// nothing here holds or shows a password, key or token.
#pragma once

#include <boost/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "common/model.hpp"
#include "common/time.hpp"

namespace apono::broker::slack {

/// callback_ids of the modals the buttons open; each carries the request id in its metadata.
inline constexpr std::string_view reject_callback = "apono_reject_reason";
inline constexpr std::string_view again_callback = "apono_request_again";
inline constexpr std::string_view details_callback = "apono_access_details";

/// The button action_ids on the notification messages (the outbox's Slack channel puts them
/// there; each button's value is the request id).
namespace action {
inline constexpr std::string_view approve = "apono_approve";
inline constexpr std::string_view reject = "apono_reject";
inline constexpr std::string_view details = "apono_details";
inline constexpr std::string_view revoke = "apono_revoke";
inline constexpr std::string_view request_again = "apono_request_again";
}  // namespace action

/// `/apono help`; `error` (one line) first when the subcommand was not understood.
[[nodiscard]] boost::json::object help_message(std::string_view error = {});

/// An ephemeral reply of one line of mrkdwn (`text` is escaped by the caller).
[[nodiscard]] boost::json::object ephemeral(std::string_view text);

/// `/apono my requests`: `requests` (active ones and those of the last 7 days), newest first,
/// with status and time left at `now`.
[[nodiscard]] boost::json::object my_requests_message(
    const std::vector<common::access_request>& requests, common::time_point now);

/// What a unit list reads as: `read_only on pg-local/appdb, ...` (cut to `max` units).
[[nodiscard]] std::string describe_units(const common::access_request& r, std::size_t max = 5);

/// The reply after the form was submitted: the request's id, status and flow, and the CLI
/// command that repeats it.
[[nodiscard]] boost::json::object created_message(const common::access_request& r,
                                                  std::string_view cli_command);

/// The modal asking an approver why they reject `r`.
[[nodiscard]] boost::json::object reject_modal(const common::access_request& r,
                                               std::string_view channel);
/// The modal asking a new justification (and optionally a duration) to request `r` again.
[[nodiscard]] boost::json::object again_modal(const common::access_request& r,
                                              std::string_view channel);
/// The access details modal: how to connect to each unit of `d` (`apono access connect`, host,
/// port, database, login, expiry), never its password, key or token.
[[nodiscard]] boost::json::object details_modal(const common::access_request& r,
                                                const common::access_details& d);

/// The request id and channel a button modal carries in its private_metadata (empty when
/// absent or malformed).
struct modal_meta {
  std::string request_id;  ///< `AR-00012`
  std::string channel;     ///< where to answer; may be empty
};
/// Reads `view.private_metadata`.
[[nodiscard]] modal_meta read_meta(const boost::json::object& view);

/// `1h 20m left`, `ended`, or empty for a request that is not Active.
[[nodiscard]] std::string time_left(const common::access_request& r, common::time_point now);

}  // namespace apono::broker::slack
