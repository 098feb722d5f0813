// Slack's Block Kit limits, checked the way Slack checks them, for the Slack stand-in
// (slack_fixture) and for tests that check a message before it is sent.
#pragma once

#include <boost/json.hpp>

#include <optional>
#include <string>

namespace apono::test {

/// What is wrong with `blocks` by Slack's Block Kit limits (50 blocks in a message, 100 in a
/// modal, 3,000 characters of section text, 150 of header text, 75 of button text, 255 of an
/// action_id or block_id, 2,000 of a button's value, ...), in Slack's words with a JSON
/// pointer; nullopt when Slack would take them. What the stand-in answers `invalid_blocks` for.
[[nodiscard]] std::optional<std::string> slack_block_problem(const boost::json::array& blocks,
                                                             bool modal);
/// The same for a modal view (type, a title of at most 24 characters, submit and close, the
/// blocks).
[[nodiscard]] std::optional<std::string> slack_view_problem(const boost::json::object& view);

}  // namespace apono::test
