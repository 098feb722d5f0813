// Block Kit pieces the Slack app's messages and modals are made of, each cut to Slack's limits
// (3,000 characters of section text, 75 of an option or button, 24 of a modal title, 100
// options per select) so a long resource name or justification shortens a message instead of
// making Slack refuse it. Text from users is escaped for mrkdwn (`&`, `<`, `>`), so nobody can
// mention a channel or forge a link through a justification.
#pragma once

#include <boost/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace apono::broker::slack::blocks {

/// Slack's limits that the builders enforce.
namespace limits {
inline constexpr std::size_t section_text = 3000;    ///< section and context mrkdwn text
inline constexpr std::size_t option_text = 75;       ///< an option's or a button's label
inline constexpr std::size_t option_value = 150;     ///< an option's value
inline constexpr std::size_t modal_title = 24;       ///< a modal's title, submit and close
inline constexpr std::size_t input_label = 2000;     ///< an input block's label
inline constexpr std::size_t placeholder = 150;      ///< a select's or input's placeholder
inline constexpr std::size_t options = 100;          ///< options in one select
inline constexpr std::size_t message_blocks = 50;    ///< blocks in one message
inline constexpr std::size_t modal_blocks = 100;     ///< blocks in one modal
inline constexpr std::size_t metadata = 3000;        ///< a modal's private_metadata
inline constexpr std::size_t header_text = 150;      ///< a header block's text
inline constexpr std::size_t context_elements = 10;  ///< elements of one context block
inline constexpr std::size_t message_text = 4000;    ///< a message's fallback text
}  // namespace limits

/// `s` cut to at most `max` bytes on a UTF-8 character boundary, ending in `…` when cut.
[[nodiscard]] std::string truncate(std::string_view s, std::size_t max);
/// `s` with `&`, `<` and `>` escaped, so it reads as typed in mrkdwn.
[[nodiscard]] std::string escape(std::string_view s);

/// `{"type":"plain_text","text":...}` cut to `max`.
[[nodiscard]] boost::json::object plain(std::string_view text,
                                        std::size_t max = limits::option_text);
/// `{"type":"mrkdwn","text":...}` cut to the section limit (`text` is already mrkdwn).
[[nodiscard]] boost::json::object mrkdwn(std::string_view text);
/// A section of mrkdwn text.
[[nodiscard]] boost::json::object section(std::string_view text);
/// A section of mrkdwn fields (two columns; at most 10, each cut to 2,000).
[[nodiscard]] boost::json::object fields(const std::vector<std::string>& texts);
/// A header block.
[[nodiscard]] boost::json::object header(std::string_view text);
/// A context block with one mrkdwn element.
[[nodiscard]] boost::json::object context(std::string_view text);
/// A divider.
[[nodiscard]] boost::json::object divider();
/// A button; `style` is `primary`, `danger` or empty.
[[nodiscard]] boost::json::object button(std::string_view text, std::string_view action_id,
                                         std::string_view value, std::string_view style = {});
/// An actions block holding `elements` (buttons), with `block_id`.
[[nodiscard]] boost::json::object actions(std::string_view block_id, boost::json::array elements);
/// A select option showing `text` with `value`.
[[nodiscard]] boost::json::object option(std::string_view text, std::string_view value);
/// Options for each of `values` (text = value), at most the select limit.
[[nodiscard]] boost::json::array options(const std::vector<std::string>& values);
/// A confirmation dialog for a button.
[[nodiscard]] boost::json::object confirm(std::string_view title, std::string_view text,
                                          std::string_view yes, std::string_view no);
/// An input block around `element`; `dispatch`: a change sends block_actions at once.
[[nodiscard]] boost::json::object input(std::string_view block_id, std::string_view label,
                                        boost::json::object element, bool dispatch = false,
                                        bool optional = false, std::string_view hint = {});
/// A modal view; an empty `submit` makes it read-only (Close only).
[[nodiscard]] boost::json::object modal(std::string_view title, std::string_view callback_id,
                                        boost::json::array blocks,
                                        std::string_view private_metadata = {},
                                        std::string_view submit = {},
                                        std::string_view close = "Cancel");
/// A message body: fallback `text` and `blocks` (cut to the message limit, keeping the last
/// block when it holds buttons).
[[nodiscard]] boost::json::object message(std::string_view text, boost::json::array blocks);

/// Why `view` breaks a limit above or a modal's shape, or empty when it does not (used by
/// tests and by the app before each views.open / views.update).
[[nodiscard]] std::string check_modal(const boost::json::object& view);
/// Why a message's blocks break a limit, or empty.
[[nodiscard]] std::string check_message(const boost::json::object& message);

}  // namespace apono::broker::slack::blocks
