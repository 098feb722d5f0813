// Quoting for a POSIX shell, for the commands apono prints for people to copy (the CLI's
// instructions, the Slack app's "same request from the CLI").
#pragma once

#include <string>
#include <string_view>

namespace apono::common {

/// Quotes `s` for a POSIX shell only when it needs it (`'it'\''s'`; "" becomes `''`).
[[nodiscard]] std::string shell_quote(std::string_view s);

}  // namespace apono::common
