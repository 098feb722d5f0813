// Admin operations on the outbox.
#include "broker/notify/admin.hpp"

#include <boost/json.hpp>

#include "broker/notify/events.hpp"
#include "broker/notify/payload.hpp"
#include "broker/notify/recipients.hpp"
#include "common/error.hpp"

namespace apono::broker::notify {

namespace json = boost::json;
using common::api_error;
using common::errc;

namespace {

// An endpoint of any channel, as admins see it.
struct configured {
  std::string name;
  std::string channel;
  std::string shown_url;
  std::vector<std::string> events;
};

std::vector<configured> configured_endpoints(const config& cfg) {
  const auto& n = cfg.notifications;
  std::vector<configured> out;
  for (const auto& w : n.webhooks) out.push_back({w.name, "webhook", w.shown_url, w.events});
  for (const auto& t : n.teams) out.push_back({t.name, "teams", t.shown_url, t.events});
  if (n.email) {
    const auto& e = *n.email;
    const char* scheme = e.tls == smtp_tls::implicit ? "smtps://" : "smtp://";
    const char* mode = e.tls == smtp_tls::starttls ? " (STARTTLS)"
                       : e.tls == smtp_tls::none   ? " (no TLS)"
                                                   : "";
    out.push_back(
        {e.name, "email", scheme + e.host + ":" + std::to_string(e.port) + mode, e.events});
  }
  if (n.slack) out.push_back({n.slack->name, "slack", n.slack->api_base_url, n.slack->events});
  return out;
}

std::optional<configured> find_endpoint(const config& cfg, const std::string& name) {
  for (auto& e : configured_endpoints(cfg))
    if (e.name == name) return e;
  return std::nullopt;
}

configured known_endpoint(const config& cfg, const std::string& name) {
  auto e = find_endpoint(cfg, name);
  if (!e) throw api_error(errc::not_found, "no notification endpoint '" + name.substr(0, 64) + "'");
  return *e;
}

std::optional<endpoint_state> state_of(store_tx& tx, const std::string& name) {
  for (auto& e : tx.endpoint_states())
    if (e.name == name) return e;
  return std::nullopt;
}

endpoint_view view_of(const configured& w, const std::optional<endpoint_state>& st) {
  endpoint_view v{w.name, w.channel, w.shown_url, w.events, std::nullopt, {}};
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
  for (const auto& w : configured_endpoints(cfg)) {
    std::optional<endpoint_state> s;
    for (const auto& e : states)
      if (e.name == w.name) s = e;
    out.push_back(view_of(w, s));
  }
  return out;
}

delivery send_test(store& st, const config& cfg, const common::clock& clk, const std::string& name,
                   const std::string& by) {
  const auto w = known_endpoint(cfg, name);
  // A channel that addresses people sends the test to the admin who asked for it.
  std::string endpoint = w.name;
  if (w.channel == "email") {
    const auto* u = cfg.find_user(by);
    if (!u || u->email.empty())
      throw api_error(errc::conflict, "the test mail goes to you, and you (" + by +
                                          ") have no email address in the config (users: email)");
    endpoint = recipient_endpoint(w.name, by);
  }
  // Slack's test is a direct message to the admin; whether Slack knows them shows in the
  // delivery (users_not_found), as for any other recipient.
  if (w.channel == "slack") endpoint = recipient_endpoint(w.name, by);
  delivery d;
  st.transact([&](store_tx& tx) {
    auto s = state_of(tx, w.name);
    if (s && s->disabled_at) disabled(w.name);
    const auto now = clk.now();
    auto ev = admin_event(now, by, "notification.test", json::object{{"endpoint", w.name}});
    ev.id = tx.append_audit(ev);
    d = make_delivery(endpoint, w.channel, ev, test_event, test_payload(ev, w.name, by), now,
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
    const auto configured_name = split_endpoint(d.endpoint).endpoint;
    if (!find_endpoint(cfg, configured_name))
      throw api_error(errc::conflict, "endpoint '" + configured_name +
                                          "' is no longer configured: nothing to send to");
    auto s = state_of(tx, configured_name);
    if (s && s->disabled_at) disabled(configured_name);
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
  const auto w = known_endpoint(cfg, name);
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
