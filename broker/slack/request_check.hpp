// The gate in front of /slack/commands and /slack/interactions: Slack's v0 signature
// (`v0=` + hex HMAC-SHA256 of `v0:<X-Slack-Request-Timestamp>:<raw body>` with the signing
// secret), compared in constant time, before anything in the body is parsed; a timestamp more
// than 5 minutes from the broker's clock is refused; and a request seen before (the same
// signature) is refused, across every replica, because the store remembers each signature until
// its timestamp is too old to pass anyway.
#pragma once

#include <string>
#include <string_view>

#include "broker/http/server.hpp"
#include "broker/store/store.hpp"
#include "common/time.hpp"

namespace apono::broker::slack {

/// Why a request was let in or not.
enum class verdict {
  ok,               ///< signed by Slack, fresh, first time
  missing_headers,  ///< no X-Slack-Signature or X-Slack-Request-Timestamp (or malformed)
  stale,            ///< the timestamp is more than 5 minutes away
  bad_signature,    ///< the signature does not match
  replayed,         ///< this exact request was accepted before
};

/// A short reason for logs and the 401 body (`stale timestamp`); never a secret.
[[nodiscard]] std::string_view describe(verdict v);

/// `v0=<hex>` for `timestamp` and `body` under `secret` (tests sign with it too).
[[nodiscard]] std::string sign_v0(std::string_view secret, std::string_view timestamp,
                                  std::string_view body);

/// Checks `req` against `signing_secret` at `now`; on `ok` records the signature in `st` so a
/// replay to any replica is refused. Never throws (a store failure is reported as an exception
/// by the store only when the caller cannot answer at all: it then answers 503).
[[nodiscard]] verdict check_request(const http::request& req, std::string_view signing_secret,
                                    store& st, common::time_point now);

}  // namespace apono::broker::slack
