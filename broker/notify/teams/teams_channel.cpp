// One Teams attempt with the common HTTP client, on a connection of its own.
#include "broker/notify/teams/teams_channel.hpp"

#include <exception>

#include "broker/notify/notice.hpp"
#include "broker/notify/teams/card.hpp"
#include "broker/notify/webhook/webhook_channel.hpp"
#include "common/http_client.hpp"

namespace apono::broker::notify {

attempt_result teams_channel::attempt(const delivery& d, const notifications_config& cfg) {
  using outcome = attempt_result::outcome;
  const auto* t = cfg.find_teams(d.endpoint);
  if (!t) return {outcome::dropped, 0, "teams '" + d.endpoint + "' is no longer configured", {}};
  const auto body = teams::build_message(make_notice(d.payload, cfg));
  try {
    common::http_client client({t->origin, t->ca_file, {}, cfg.timeout});
    auto res = client.request(
        "POST", t->target, body,
        {{"Content-Type", "application/json"}, {"User-Agent", "apono-teams/1"}}, cfg.timeout);
    return http_answer(res.status, res.retry_after, clock_.now());
  } catch (const std::exception& e) {
    // The client's messages name the origin and the cause, never the path or query, where a
    // Workflows URL carries its signature.
    return {outcome::failed, 0, e.what(), {}};
  }
}

}  // namespace apono::broker::notify
