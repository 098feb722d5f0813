// Typed control-plane errors: thrown by broker handlers and CLI commands, and turned into an
// HTTP status or an exit code in exactly one place each.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace apono::common {

/// The kind of a control-plane failure; each maps to one HTTP status.
enum class errc {
  invalid_argument,     ///< 400: the caller sent something malformed or inconsistent
  unauthenticated,      ///< 401: no or unknown bearer token
  permission_denied,    ///< 403: known caller, not allowed
  not_found,            ///< 404: unknown id, or one the caller may not see
  conflict,             ///< 409: valid, but not in the current state (approve an ACTIVE request)
  payload_too_large,    ///< 413: body over the limit
  failed_precondition,  ///< 422: a policy refuses it (duration over a flow's maximum)
  resource_exhausted,   ///< 429: too many attempts (failed sign-ins); retry after a while
  unavailable,          ///< 503: a dependency is down; retry later
  internal,             ///< 500: a bug; never expected
};

/// The HTTP status for an error kind.
[[nodiscard]] int http_status(errc code) noexcept;
/// The stable snake_case name used in JSON error bodies.
[[nodiscard]] std::string_view code_name(errc code) noexcept;
/// The kind for a name from a JSON error body (internal when unknown).
[[nodiscard]] errc code_from_name(std::string_view name) noexcept;

/// The API's error body: `{"error":{"code":"<code_name>","message":"<message>"}}`.
[[nodiscard]] std::string error_body(errc code, std::string_view message);

/// A failure with a kind and a one-line message meant for the user.
class api_error : public std::runtime_error {
 public:
  /// Builds an error of kind `code` with a one-line `message`.
  api_error(errc code, std::string message) : std::runtime_error(std::move(message)), code_(code) {}
  /// The kind of the failure.
  [[nodiscard]] errc code() const noexcept { return code_; }

 private:
  errc code_;
};

}  // namespace apono::common
