// The web portal's browser sessions: a random secret in a `__Host-` cookie (HttpOnly, Secure,
// SameSite=Strict), only its SHA-256 in the store so every replica sees the session, an idle
// timeout and an absolute lifetime from the config, and the same-origin rule that cookie-
// authenticated state changes must meet (a cookie rides along on cross-site requests a page
// can forge; the headers asked for here cannot be forged by another site).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "broker/config_holder.hpp"
#include "broker/http/server.hpp"
#include "broker/service.hpp"
#include "broker/store/store.hpp"
#include "common/time.hpp"

namespace apono::broker::portal {

/// The session cookie. The `__Host-` prefix makes browsers keep it only when it is Secure,
/// has Path=/ and no Domain, so no other host (a sibling subdomain) can set or see it.
inline constexpr std::string_view cookie_name = "__Host-apono_session";

/// The client_id audit events of portal sign-ins carry.
inline constexpr std::string_view client_id = "apono-portal";

/// The message of every refused session cookie: expired, signed out, unknown, or its user gone.
inline constexpr std::string_view expired_message = "session expired: sign in again";

/// A live browser session.
struct session {
  caller who;                            ///< the signed-in user as the config has them now
  common::time_point expires_at{};       ///< the absolute end, however busy it is
  std::chrono::seconds idle_timeout{0};  ///< it also ends when unused this long
  std::string hash;                      ///< SHA-256 hex of the secret: the store's key
};

/// The session cookie's value in `req`'s Cookie headers (the first, if several); empty when
/// there is none.
[[nodiscard]] std::string session_cookie(const http::request& req);

/// The Set-Cookie value that gives the browser `secret`: no Max-Age, so it goes with the
/// browser session too, and the store ends it by the idle timeout and the lifetime.
[[nodiscard]] std::string set_cookie(std::string_view secret);

/// The Set-Cookie value that removes the session cookie (Max-Age=0).
[[nodiscard]] std::string clear_cookie();

/// True when `method` changes nothing by HTTP's rules (GET, HEAD, OPTIONS), so a cookie alone
/// may authorize it.
[[nodiscard]] bool is_safe_method(std::string_view method) noexcept;

/// True when `req` comes from the portal's own pages: `X-Apono-CSRF: 1`, and `Origin` equal to
/// this listener's origin (`https://` and the Host header) or, without an Origin,
/// `Sec-Fetch-Site: same-origin`. An Origin or Sec-Fetch-Site that names another site refuses
/// it whatever else is sent.
[[nodiscard]] bool is_same_origin(const http::request& req);

/// Starts, resolves and ends browser sessions. Thread-safe.
class sessions {
 public:
  /// Reads the timeouts from `cfg` at each call (a reload applies to live sessions), keeps
  /// sessions in `st`.
  sessions(config_holder& cfg, store& st, const common::clock& clock);

  /// Starts a session for `user`, whose password was just checked, and returns it with its
  /// secret (for the cookie). The row is written in one transaction with what `also` writes
  /// (the sign-in's audit; it gets the session's id, safe to log). `replaced`: the secret of a
  /// cookie the browser still sent, whose session ends now.
  [[nodiscard]] std::pair<session, std::string> start(
      const std::string& user, std::string_view replaced,
      const std::function<void(store_tx&, const std::string& session_id)>& also);

  /// The live session of `secret`. `activity`: the call is the user's doing, so it counts
  /// against the idle timeout (a background long-poll does not). Throws api_error
  /// unauthenticated with expired_message for anything else; an ended session's row goes.
  [[nodiscard]] session resolve(std::string_view secret, bool activity) const;

  /// Ends the session of `secret` (nothing when there is none), audited as `auth.logout`.
  void end(std::string_view secret) const;

  /// How often a session's last use is written: a minute, or a tenth of the idle timeout
  /// when that is shorter (so a timeout of a few seconds, in tests, still works).
  [[nodiscard]] static std::chrono::milliseconds touch_interval(std::chrono::seconds idle);

  /// The id of the session with SHA-256 hex `hash` in audit events: its first 12 hex digits.
  [[nodiscard]] static std::string session_id(const std::string& hash);

 private:
  config_holder& config_;
  store& store_;
  const common::clock& clock_;
};

}  // namespace apono::broker::portal
