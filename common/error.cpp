// Mapping between error kinds, HTTP statuses and their JSON names.
#include "common/error.hpp"

#include <boost/json.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <utility>

namespace apono::common {
namespace {

struct entry {
  errc code;
  int status;
  std::string_view name;
};

constexpr std::array<entry, 10> table{{
    {errc::invalid_argument, 400, "invalid_argument"},
    {errc::unauthenticated, 401, "unauthenticated"},
    {errc::permission_denied, 403, "permission_denied"},
    {errc::not_found, 404, "not_found"},
    {errc::conflict, 409, "conflict"},
    {errc::payload_too_large, 413, "payload_too_large"},
    {errc::failed_precondition, 422, "failed_precondition"},
    {errc::resource_exhausted, 429, "resource_exhausted"},
    {errc::unavailable, 503, "unavailable"},
    {errc::internal, 500, "internal"},
}};

// JSON text is UTF-8 (RFC 8259) and Boost.JSON writes a string's bytes as they are, so a
// message quoting a percent-decoded path or query value, or cut at a byte count inside a
// character, would make the whole body unparseable for clients. Each byte of an invalid
// sequence (also overlong forms, surrogates, code points past U+10FFFF) becomes U+FFFD.
std::string valid_utf8(std::string_view s) {
  constexpr std::uint32_t min_code_point[] = {0, 0, 0x80, 0x800, 0x10000};
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto lead = static_cast<unsigned char>(s[i]);
    const std::size_t n = lead < 0x80           ? 1
                          : (lead >> 5) == 0x06 ? 2
                          : (lead >> 4) == 0x0e ? 3
                          : (lead >> 3) == 0x1e ? 4
                                                : 0;
    bool ok = n > 0 && i + n <= s.size();
    std::uint32_t cp = lead & (0x7f >> n);
    for (std::size_t k = 1; ok && k < n; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      ok = (next & 0xc0) == 0x80;
      cp = (cp << 6) | (next & 0x3f);
    }
    if (ok && n > 1) ok = cp >= min_code_point[n] && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
    if (ok) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out.append("\xef\xbf\xbd");
      ++i;
    }
  }
  return out;
}

}  // namespace

int http_status(errc code) noexcept {
  for (const auto& e : table)
    if (e.code == code) return e.status;
  return 500;
}

std::string_view code_name(errc code) noexcept {
  for (const auto& e : table)
    if (e.code == code) return e.name;
  return "internal";
}

errc code_from_name(std::string_view name) noexcept {
  for (const auto& e : table)
    if (e.name == name) return e.code;
  return errc::internal;
}

std::string error_body(errc code, std::string_view message) {
  return boost::json::serialize(boost::json::object{
      {"error", boost::json::object{{"code", code_name(code)}, {"message", valid_utf8(message)}}}});
}

}  // namespace apono::common
