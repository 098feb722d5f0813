// AWS Signature Version 4 (AWS4-HMAC-SHA256) for the Query APIs the broker calls (STS, IAM):
// signing outgoing requests, and the pieces a server needs to check a received one, which the
// test fixture uses to play STS and IAM. Only the Authorization-header form is supported (no
// presigned URLs, no chunked S3 payloads).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/time.hpp"

namespace apono::broker::aws {

/// Header fields in the order they are (or were) sent.
using header_list = std::vector<std::pair<std::string, std::string>>;

/// A request as it goes on the wire, which is what both signer and verifier must agree on.
struct http_message {
  std::string method;   ///< GET, POST, ...
  std::string path;     ///< the target's path as sent (percent-encoded), `/` when empty
  std::string query;    ///< the target's query as sent, without `?`
  header_list headers;  ///< every header the canonical request may name (names any case)
  std::string body;     ///< the payload, hashed into the signature
};

/// Keys to sign with; `session_token` is set for temporary (STS-issued) credentials.
struct credentials {
  std::string access_key_id;      ///< AKIA... or ASIA...
  std::string secret_access_key;  ///< never logged
  std::string session_token{};    ///< sent as X-Amz-Security-Token when not empty
};

/// What the credential scope names: the key, the day, the region and the service.
struct scope {
  std::string date;     ///< YYYYMMDD
  std::string region;   ///< e.g. us-east-1
  std::string service;  ///< e.g. sts, iam
};

/// A parsed `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
struct authorization {
  std::string access_key_id;                ///< from Credential=
  aws::scope scope;                         ///< the rest of Credential=, up to `aws4_request`
  std::vector<std::string> signed_headers;  ///< lower-case, in the order given
  std::string signature;                    ///< 64 lower-case hex digits
};

/// AWS's percent-encoding: unreserved characters (A-Z a-z 0-9 - _ . ~) kept, every other byte
/// as upper-case %XX; `/` kept when `keep_slash`.
[[nodiscard]] std::string uri_encode(std::string_view s, bool keep_slash = false);
/// Decodes %XX sequences (a `+` stays a `+`); malformed sequences are kept as they are.
[[nodiscard]] std::string percent_decode(std::string_view s);
/// `name=value&...` with each part uri_encode()d, in the order given (a form body or query).
[[nodiscard]] std::string form_encode(
    const std::vector<std::pair<std::string, std::string>>& params);
/// Splits a form body or query into decoded (name, value) pairs, in order; `+` is a space.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> form_decode(std::string_view s);

/// `20150830T123600Z` for `t` (the X-Amz-Date value).
[[nodiscard]] std::string amz_date(common::time_point t);
/// The inverse of amz_date; nullopt when `s` is not in that form.
[[nodiscard]] std::optional<common::time_point> parse_amz_date(std::string_view s);

/// The canonical URI: each segment of the sent path encoded once more, as every service but S3
/// expects. Dot segments and repeated slashes are not normalised: the broker only sends `/`.
[[nodiscard]] std::string canonical_uri(std::string_view path);
/// The canonical query: pairs decoded, re-encoded with uri_encode, sorted by name then value.
[[nodiscard]] std::string canonical_query(std::string_view query);
/// The canonical request over `signed_headers` (lower-case, sorted); throws std::invalid_argument
/// when one of them is not in `m.headers`.
[[nodiscard]] std::string canonical_request(const http_message& m,
                                            const std::vector<std::string>& signed_headers);
/// `AWS4-HMAC-SHA256\n<amz date>\n<scope>/aws4_request\n<hex SHA-256 of the canonical request>`.
[[nodiscard]] std::string string_to_sign(std::string_view amz_date, const scope& s,
                                         std::string_view canonical_request);
/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
[[nodiscard]] std::string signing_key(std::string_view secret, const scope& s);
/// Hex HMAC(signing_key, string_to_sign) for `m` as signed at `amz_date` over `signed_headers`.
[[nodiscard]] std::string signature(const http_message& m,
                                    const std::vector<std::string>& signed_headers,
                                    std::string_view amz_date, const scope& s,
                                    std::string_view secret);

/// Signs `m` in place: adds X-Amz-Date (and X-Amz-Security-Token with a session token), then an
/// Authorization header over every header in `m.headers` (which must include Host). Headers
/// added to `m` afterwards are unsigned.
void sign(http_message& m, const credentials& c, std::string_view region, std::string_view service,
          common::time_point now);

/// Parses an Authorization header value; nullopt when it is not a well-formed SigV4 one.
[[nodiscard]] std::optional<authorization> parse_authorization(std::string_view header);
/// The signature a received request should carry when its key's secret is `secret`: the
/// canonical request is rebuilt from the received values of `auth.signed_headers` and the
/// X-Amz-Date header. Throws std::invalid_argument when a signed header or X-Amz-Date is missing.
[[nodiscard]] std::string expected_signature(const http_message& received,
                                             const authorization& auth, std::string_view secret);

}  // namespace apono::broker::aws
