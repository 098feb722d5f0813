// Admin operations on the outbox.
#include "broker/notify/admin.hpp"

#include <boost/json.hpp>

#include "broker/notify/events.hpp"
#include "broker/notify/payload.hpp"
#include "common/error.hpp"

namespace apono::broker::notify {

namespace json = boost::json;
using common::api_error;
using common::errc;

namespace {

const webhook_config& known_endpoint(const config& cfg, const std::string& name) {
  const auto* w = cfg.notifications.find_webhook(name);
  if (!w) throw api_error(errc::not_found, "no notification endpoint '" + name.substr(0, 64) + "'");
  return *w;
}

std::optional<endpoint_state> state_of(store_tx& tx, const std::string& name) {
  for (auto& e : tx.endpoint_states())
    if (e.name == name) return e;
  return std::nullopt;
}

endpoint_view view_of(const webhook_config& w, const std::optional<endpoint_state>& st) {
  endpoint_view v{w.name, "webhook", w.shown_url, w.events, std::nullopt, {}};
  if (st && st->disabled_at) {
    v.disabled_at = st->disabled_at;
    v.disabled_reason = st->disabled_reason;
  }
  return v;
}

audit_event admin_event(common::time_point now, const std::string& by, const char* action,
                        json::object detail) {
  audit_event ev;
  ev.at = now;
  ev.actor = by;
  ev.action = action;
  ev.detail = json::serialize(detail);
  return ev;
}

[[noreturn]] void disabled(const std::string& name) {
  throw api_error(errc::conflict, "endpoint '" + name +
                                      "' is disabled: enable it first (POST "
                                      "/api/v1/notifications/endpoints/" +
                                      name + "/enable)");
}

}  // namespace

std::vector<endpoint_view> list_endpoints(store& st, const config& cfg) {
  std::vector<endpoint_state> states;
  st.read([&](store_tx& tx) { states = tx.endpoint_states(); });
  std::vector<endpoint_view> out;
  for (const auto& w : cfg.notifications.webhooks) {
    std::optional<endpoint_state> s;
    for (const auto& e : states)
      if (e.name == w.name) s = e;
    out.push_back(view_of(w, s));
  }
  return out;
}

delivery send_test(store& st, const config& cfg, const common::clock& clk, const std::string& name,
                   const std::string& by) {
  const auto& w = known_endpoint(cfg, name);
  delivery d;
  st.transact([&](store_tx& tx) {
    auto s = state_of(tx, w.name);
    if (s && s->disabled_at) disabled(w.name);
    const auto now = clk.now();
    auto ev = admin_event(now, by, "notification.test", json::object{{"endpoint", w.name}});
    ev.id = tx.append_audit(ev);
    d = make_delivery(w.name, "webhook", ev, test_event, test_payload(ev, w.name, by), now,
                      cfg.notifications.max_age);
    // New, so never a duplicate; the fan-out of this audit event finds it there.
    (void)tx.insert_delivery(d);
  });
  return d;
}

delivery redeliver(store& st, const config& cfg, const common::clock& clk, std::int64_t id,
                   const std::string& by) {
  delivery d;
  st.transact([&](store_tx& tx) {
    auto found = tx.get_delivery(id);
    if (!found) throw api_error(errc::not_found, "no delivery " + std::to_string(id));
    d = *found;
    if (!cfg.notifications.find_webhook(d.endpoint))
      throw api_error(errc::conflict,
                      "endpoint '" + d.endpoint + "' is no longer configured: nothing to send to");
    auto s = state_of(tx, d.endpoint);
    if (s && s->disabled_at) disabled(d.endpoint);
    const auto now = clk.now();
    d.status = "pending";
    d.attempts = 0;
    d.next_attempt_at = now;
    d.give_up_at = now + cfg.notifications.max_age;
    d.delivered_at.reset();
    tx.update_delivery(d);
    (void)tx.append_audit(admin_event(now, by, "notification.redelivered",
                                      json::object{{"delivery", d.id},
                                                   {"endpoint", d.endpoint},
                                                   {"webhook_id", d.webhook_id},
                                                   {"type", d.event_type}}));
  });
  return d;
}

endpoint_view enable_endpoint(store& st, const config& cfg, const common::clock& clk,
                              const std::string& name, const std::string& by) {
  const auto& w = known_endpoint(cfg, name);
  std::optional<endpoint_state> s;
  st.transact([&](store_tx& tx) {
    s = state_of(tx, w.name);
    if (!s || !s->disabled_at) return;
    const auto now = clk.now();
    tx.set_endpoint_state(w.name, std::nullopt, "");
    (void)tx.append_audit(
        admin_event(now, by, "notification.endpoint_enabled",
                    json::object{{"endpoint", w.name}, {"was_disabled", s->disabled_reason}}));
    s.reset();
  });
  return view_of(w, s);
}

}  // namespace apono::broker::notify
