// Browser login for `apono login`: the authorization code flow with PKCE (RFC 6749 §4.1,
// RFC 7636) for a native client on a loopback redirect (RFC 8252), and the revocable API
// tokens it issues. The login pages are plain HTML; the token endpoint speaks the API's JSON.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

  /// What a password check found.
  enum class password_check {
    ok,         ///< the user's password: the caller now signs the user in (see signed_in)
    wrong,      ///< unknown user or wrong password: counted and audited
    throttled,  ///< refused unchecked after too many failures: see retry_after
  };
  /// The outcome of check_password.
  struct password_result {
    password_check outcome = password_check::wrong;  ///< what it found
    std::chrono::milliseconds retry_after{0};        ///< throttled: how long refusals last
  };
  /// Checks a sign-in of `username` with `password` from `remote` (the peer's HOST:PORT)
  /// through `client` (`apono-cli`, `apono-portal`: named in the audit). Refused unchecked
  /// while too many sign-ins failed for the user or the address (audited as
  /// `auth.login_throttled`); a wrong password is counted against both and audited as
  /// `auth.login_failed`. Writes nothing on success: the caller commits what the sign-in gives
  /// in one transaction with signed_in().
  [[nodiscard]] password_result check_password(const std::string& username,
                                               std::string_view password, const std::string& remote,
                                               std::string_view client) const;
  /// `too many failed sign-ins: try again in N minutes` for a refusal lasting `wait`.
  [[nodiscard]] static std::string throttled_message(std::chrono::milliseconds wait);
  /// The Retry-After value (whole seconds, rounded up) for a refusal lasting `wait`.
  [[nodiscard]] static std::string retry_after_seconds(std::chrono::milliseconds wait);
  /// Records in `tx` that `username` signed in through `client` at `now`: forgets the user's
  /// failed sign-ins and audits `auth.login`, with `detail` added to the event's detail.
  static void signed_in(store_tx& tx, const std::string& username, common::time_point now,
                        std::string_view client,
                        const std::vector<std::pair<std::string, std::string>>& detail = {});

 private:
  http::response login_page(const http::request& req) const;
  http::response login_submit(const http::request& req) const;
  http::response token(const http::request& req) const;
  void record_failure(const std::string& username, const std::string& address,
                      std::string_view client) const;
  /// How long sign-ins for `username` or from `address` stay refused; nullopt: not refused.
  std::optional<std::chrono::milliseconds> throttled(const std::string& username,
                                                     const std::string& address,
                                                     common::time_point now,
                                                     std::string_view client) const;

  config_holder& config_;
  store& store_;
  const common::clock& clock_;
};

}  // namespace apono::broker::api
