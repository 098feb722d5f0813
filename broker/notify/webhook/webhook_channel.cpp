// One webhook attempt with the common HTTP client, on a connection of its own: attempts are
// rare enough that keeping connections would only hold sockets to receivers.
#include "broker/notify/webhook/webhook_channel.hpp"

#include <charconv>
#include <ctime>
#include <exception>

#include "broker/notify/webhook/signing.hpp"
#include "common/http_client.hpp"

namespace apono::broker::notify {

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           common::time_point now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (value.find_first_not_of("0123456789") == std::string_view::npos) {
    std::int64_t seconds = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc{} || p != value.data() + value.size()) return std::nullopt;
    return std::chrono::milliseconds{std::min<std::int64_t>(seconds, 366LL * 86400) * 1000};
  }
  // IMF-fixdate, the form senders must use: `Sun, 06 Nov 1994 08:49:37 GMT`.
  std::tm tm{};
  const std::string text(value);
  const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  const auto at = std::chrono::sys_seconds{std::chrono::seconds{::timegm(&tm)}};
  const auto delta = std::chrono::duration_cast<std::chrono::milliseconds>(at - now);
  return std::max(delta, std::chrono::milliseconds{0});
}

attempt_result http_answer(int status, std::string_view retry_after, common::time_point now) {
  using outcome = attempt_result::outcome;
  attempt_result out;
  out.http_status = status;
  if (status >= 200 && status < 300) {
    out.result = outcome::delivered;
  } else if (status == 410) {
    out.result = outcome::gone;
    out.error = "the receiver answered 410 Gone";
  } else {
    out.result = outcome::failed;
    out.error = "the receiver answered HTTP " + std::to_string(status);
    out.retry_after = parse_retry_after(retry_after, now);
  }
  return out;
}

attempt_result webhook_channel::attempt(const delivery& d, const notifications_config& cfg) {
  using outcome = attempt_result::outcome;
  const auto* w = cfg.find_webhook(d.endpoint);
  if (!w) return {outcome::dropped, 0, "webhook '" + d.endpoint + "' is no longer configured", {}};
  const auto now = clock_.now();
  const auto timestamp =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  try {
    common::http_client client({w->origin, w->ca_file, {}, cfg.timeout});
    auto res =
        client.request("POST", w->target, d.payload,
                       {{"Content-Type", "application/json"},
                        {"User-Agent", "apono-webhooks/1"},
                        {"webhook-id", d.webhook_id},
                        {"webhook-timestamp", std::to_string(timestamp)},
                        {"webhook-signature", sign(w->keys, d.webhook_id, timestamp, d.payload)}},
                       cfg.timeout);
    return http_answer(res.status, res.retry_after, now);
  } catch (const std::exception& e) {
    // The client's messages name the origin (scheme, host and port) and the cause, never the
    // path or query of the URL, which can carry a token.
    return {outcome::failed, 0, e.what(), {}};
  }
}

}  // namespace apono::broker::notify
