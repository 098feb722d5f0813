// Standard Webhooks signatures (https://www.standardwebhooks.com, spec/standard-webhooks.md):
// HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}` under the base64-decoded part of a
// `whsec_` secret, sent as `v1,<base64>`; several secrets (a rotation) give several signatures,
// space-separated, any one of which a receiver accepts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace apono::broker::notify {

/// The fewest and most key bytes a `whsec_` secret may hold (the spec: 24 to 64).
inline constexpr std::size_t min_secret_bytes = 24;
inline constexpr std::size_t max_secret_bytes = 64;

/// The key of a `whsec_<standard base64>` secret, or nullopt when it is not one (no prefix, not
/// strict base64, or fewer than 24 or more than 64 bytes).
[[nodiscard]] std::optional<std::string> parse_secret(std::string_view whsec);

/// A new random secret of 32 bytes, as `whsec_...` (for docs and tests).
[[nodiscard]] std::string generate_secret();

/// The `webhook-signature` header value: `v1,<base64 HMAC>` for each key, space-separated, in
/// the order of `keys`.
[[nodiscard]] std::string sign(const std::vector<std::string>& keys, std::string_view webhook_id,
                               std::int64_t unix_seconds, std::string_view body);

}  // namespace apono::broker::notify
