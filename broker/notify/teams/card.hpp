// The Microsoft Teams message of a notification: an Adaptive Card (version 1.4, which Teams
// renders on desktop, web and mobile) with the notice's title and sentences, a FactSet of the
// request's facts, the CLI commands, and an Action.OpenUrl button to the request's page in the
// portal, wrapped in the `{"type": "message", "attachments": [...]}` envelope that a Workflows
// "when a Teams webhook request is received" trigger posts as is.
#pragma once

#include <string>
#include <string_view>

#include "broker/notify/notice.hpp"

namespace apono::broker::notify::teams {

/// The Adaptive Card version the cards declare.
inline constexpr std::string_view card_version = "1.4";

/// The message body for `n`, serialized JSON.
[[nodiscard]] std::string build_message(const notice& n);

/// `text` with the Markdown that Teams would interpret in a TextBlock or a fact escaped, so a
/// justification reads as typed.
[[nodiscard]] std::string escape_markdown(std::string_view text);

}  // namespace apono::broker::notify::teams
