// Checks a Microsoft Teams message with Microsoft's `adaptivecards` SDK (node running
// tests/support/adaptive_card_check.mjs with web/'s node_modules).
#pragma once

#include <boost/json/object.hpp>

#include <string>

namespace apono::test {

/// What the SDK makes of `message` (`{"type": "message", "attachments": [...]}`): `parseEvents`
/// and `validation` (both empty for a valid card), `version`, `actions` ({type, title, url}) and
/// `facts` ({title, value}). Throws when node fails.
[[nodiscard]] boost::json::object adaptive_card_check(const std::string& message);

}  // namespace apono::test
