// Browser login for `apono login`: the authorization code flow with PKCE (RFC 6749 §4.1,
// RFC 7636) for a native client on a loopback redirect (RFC 8252), and the revocable API
// tokens it issues. The login pages are plain HTML; the token endpoint speaks the API's JSON.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "broker/config_holder.hpp"
#include "broker/http/server.hpp"
#include "broker/service.hpp"
#include "broker/store/store.hpp"
#include "common/time.hpp"

namespace apono::broker::api {

/// Serves `/login` and `/oauth/token`, and resolves and revokes the tokens they issue.
/// Thread-safe; the router owns one.
class login {
 public:
  /// The only client_id accepted: the CLI.
  static constexpr std::string_view client_id = "apono-cli";

  /// Reads users and password hashes from `cfg`, keeps codes and tokens in `st`.
  login(config_holder& cfg, store& st, const common::clock& clock);

  /// True for the paths handle() answers: `/login` and `/oauth/token`.
  [[nodiscard]] static bool handles(std::string_view path);
  /// Answers `GET|POST /login` with HTML pages and redirects and `POST /oauth/token` with JSON.
  /// Throws common::api_error only for the token endpoint's JSON errors and unknown methods;
  /// the login pages turn their own errors into HTML pages.
  [[nodiscard]] http::response handle(const http::request& req, std::string_view path) const;

  /// The user of the live store token with SHA-256 hex `token_hash`, or nullopt (also when
  /// that user is no longer in the config); throws unauthenticated "session expired" for a
  /// token past its expiry.
  [[nodiscard]] std::optional<caller> token_caller(const std::string& token_hash) const;
  /// Revokes the store token with SHA-256 hex `token_hash` that `who` authenticated with and
  /// answers `{"revoked":true}`; throws a conflict error for a token set in the config.
  [[nodiscard]] http::response revoke(const caller& who, const std::string& token_hash) const;

 private:
  http::response login_page(const http::request& req) const;
  http::response login_submit(const http::request& req) const;
  http::response token(const http::request& req) const;
  void record_failure(const std::string& username, const std::string& address) const;
  /// How long sign-ins for `username` or from `address` stay refused; nullopt: not refused.
  std::optional<std::chrono::milliseconds> throttled(const std::string& username,
                                                     const std::string& address,
                                                     common::time_point now) const;

  config_holder& config_;
  store& store_;
  const common::clock& clock_;
};

}  // namespace apono::broker::api
