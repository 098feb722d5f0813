// Slack's v0 request signing, checked before a byte of the body is parsed. The replay check
// stores a hash of each accepted signature (never the signature itself, nor the body) until
// the request is too old to pass the timestamp check anyway.
#include "broker/slack/request_check.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/secrets.hpp"

namespace apono::broker::slack {

namespace {

constexpr auto window = std::chrono::minutes{5};

const std::string* header(const http::request& req, std::string_view name) {
  for (const auto& [n, v] : req.headers)
    if (n == name) return &v;
  return nullptr;
}

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
  });
}

}  // namespace

std::string_view describe(verdict v) {
  switch (v) {
    case verdict::ok:
      return "ok";
    case verdict::missing_headers:
      return "missing or malformed X-Slack-Signature or X-Slack-Request-Timestamp";
    case verdict::stale:
      return "stale timestamp (more than 5 minutes from the broker's clock)";
    case verdict::bad_signature:
      return "bad signature";
    case verdict::replayed:
      return "replayed request";
  }
  return "refused";
}

std::string sign_v0(std::string_view secret, std::string_view timestamp, std::string_view body) {
  std::string base = "v0:";
  base.append(timestamp).append(":").append(body);
  return "v0=" + common::hex(common::hmac_sha256(secret, base));
}

verdict check_request(const http::request& req, std::string_view signing_secret, store& st,
                      common::time_point now) {
  const auto* sig = header(req, "x-slack-signature");
  const auto* ts = header(req, "x-slack-request-timestamp");
  if (!sig || !ts) return verdict::missing_headers;
  if (ts->empty() || ts->size() > 12 || !std::all_of(ts->begin(), ts->end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      }))
    return verdict::missing_headers;
  if (sig->size() != 3 + 64 || !sig->starts_with("v0=") ||
      !is_lower_hex(std::string_view(*sig).substr(3)))
    return verdict::missing_headers;
  std::int64_t seconds = 0;
  std::from_chars(ts->data(), ts->data() + ts->size(), seconds);
  const auto at = common::time_point{std::chrono::seconds{seconds}};
  if (at > now + window || at < now - window) return verdict::stale;
  const auto expected = sign_v0(signing_secret, *ts, req.body);
  if (CRYPTO_memcmp(expected.data(), sig->data(), expected.size()) != 0)
    return verdict::bad_signature;
  bool fresh = false;
  // Kept until no replay of it could pass the timestamp check: its time plus the window.
  const auto key = common::sha256_hex(*sig);
  st.transact([&](store_tx& tx) { fresh = tx.remember_slack_request(key, at + window, now); });
  return fresh ? verdict::ok : verdict::replayed;
}

}  // namespace apono::broker::slack
