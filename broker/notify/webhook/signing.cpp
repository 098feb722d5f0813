// HMAC-SHA256 signatures of webhooks, with OpenSSL through common/secrets.
#include "broker/notify/webhook/signing.hpp"

#include "common/secrets.hpp"

namespace apono::broker::notify {

std::optional<std::string> parse_secret(std::string_view whsec) {
  constexpr std::string_view prefix = "whsec_";
  if (!whsec.starts_with(prefix)) return std::nullopt;
  auto key = common::unbase64(whsec.substr(prefix.size()));
  if (!key || key->size() < min_secret_bytes || key->size() > max_secret_bytes) return std::nullopt;
  return key;
}

std::string generate_secret() {
  return "whsec_" + common::base64(common::random_bytes(32));
}

std::string sign(const std::vector<std::string>& keys, std::string_view webhook_id,
                 std::int64_t unix_seconds, std::string_view body) {
  std::string content;
  content.reserve(webhook_id.size() + body.size() + 24);
  content.append(webhook_id).append(".").append(std::to_string(unix_seconds)).append(".");
  content.append(body);
  std::string out;
  for (const auto& key : keys) {
    if (!out.empty()) out += ' ';
    out += "v1," + common::base64(common::hmac_sha256(key, content));
  }
  return out;
}

}  // namespace apono::broker::notify
