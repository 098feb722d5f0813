// Just enough XML for the AWS Query APIs: find one element's text in a response, and escape text
// when writing one (the test fixture answers as STS and IAM do). Not a general XML parser: no
// CDATA, comments or DTDs, which these services do not send.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace apono::broker::aws {

/// The raw content between the first `<tag ...>` and its `</tag>` in `xml` (nested elements of
/// other names included); `<tag/>` gives "". Nullopt when there is no such element or it is
/// not closed. `<tag>` never matches `<tagSuffix>` or `<ns:tag>`.
[[nodiscard]] std::optional<std::string_view> xml_element(std::string_view xml,
                                                          std::string_view tag);
/// Decodes the five predefined entities and &#N; / &#xH; references (as UTF-8); nullopt on an
/// unknown or malformed reference or one naming an invalid code point.
[[nodiscard]] std::optional<std::string> xml_unescape(std::string_view text);
/// xml_unescape of xml_element: the text of a leaf element.
[[nodiscard]] std::optional<std::string> xml_text(std::string_view xml, std::string_view tag);
/// Escapes `&`, `<`, `>`, `"` and `'` so `text` can go into element content or an attribute
/// (html_escape's escaping: `'` as `&#39;`, which XML reads like `&apos;`).
[[nodiscard]] std::string xml_escape(std::string_view text);

}  // namespace apono::broker::aws
