// HTML text for what the broker writes as HTML itself: its sign-in pages and notification mails.
#pragma once

#include <string>
#include <string_view>

namespace apono::broker {

/// `s` with &, <, >, " and ' escaped, safe in HTML text and in quoted attribute values.
[[nodiscard]] std::string html_escape(std::string_view s);

}  // namespace apono::broker
