// Mapping between error kinds, HTTP statuses and their JSON names.
#include "common/error.hpp"

#include <boost/json.hpp>

#include <array>
#include <utility>

namespace apono::common {
namespace {

struct entry {
  errc code;
  int status;
  std::string_view name;
};

constexpr std::array<entry, 9> table{{
    {errc::invalid_argument, 400, "invalid_argument"},
    {errc::unauthenticated, 401, "unauthenticated"},
    {errc::permission_denied, 403, "permission_denied"},
    {errc::not_found, 404, "not_found"},
    {errc::conflict, 409, "conflict"},
    {errc::payload_too_large, 413, "payload_too_large"},
    {errc::failed_precondition, 422, "failed_precondition"},
    {errc::unavailable, 503, "unavailable"},
    {errc::internal, 500, "internal"},
}};

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
      {"error", boost::json::object{{"code", code_name(code)}, {"message", message}}}});
}

}  // namespace apono::common
