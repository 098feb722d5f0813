// Version 1 of the notification body. Everything in it is already visible to the people it is
// about (the request, its decision, the audit row, which never holds a secret), and nothing
// secret is added: `request.active` says how to connect, never with what.
#include "broker/notify/payload.hpp"

#include <boost/json.hpp>

#include <algorithm>

#include "broker/notify/events.hpp"
#include "broker/notify/recipients.hpp"
#include "common/secrets.hpp"

namespace apono::broker::notify {

namespace json = boost::json;

namespace {

json::value text_or_null(const std::string& s) {
  return s.empty() ? json::value(nullptr) : json::value(s);
}

json::array distinct(const common::access_request& r, std::string common::access_unit::*field) {
  json::array out;
  std::vector<std::string> seen;
  for (const auto& u : r.units) {
    const auto& v = u.*field;
    if (std::find(seen.begin(), seen.end(), v) != seen.end()) continue;
    seen.push_back(v);
    out.emplace_back(v);
  }
  return out;
}

json::object detail_of(const audit_event& ev) {
  boost::system::error_code ec;
  auto v = json::parse(ev.detail.empty() ? std::string("{}") : ev.detail, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.get_object());
}

json::value detail_text(const json::object& d, std::string_view key) {
  auto it = d.find(key);
  if (it == d.end() || !it->value().is_string()) return nullptr;
  return it->value();
}

json::object request_data(std::string_view type, const audit_event& ev,
                          const common::access_request& r, const config& cfg) {
  const auto id = common::format_request_id(r.id);
  json::array units;
  for (const auto& u : r.units)
    units.push_back(json::object{
        {"integration", u.integration}, {"resource", u.resource}, {"permission", u.permission}});
  // An automatic flow approves as the request is made: its approval is the flow's, not the
  // requester's.
  const bool auto_approval = type == "request.approved" && ev.action == "request.created";
  // A notice is no status change (its audit row has no status); it was written only while the
  // request was in the status it is about.
  std::string status = ev.status;
  if (status.empty() && type == "request.reminder") status = "PENDING";
  if (status.empty() && type == "request.expiring_soon") status = "ACTIVE";
  json::object d{{"request_id", id},
                 {"status", status.empty() ? json::value(nullptr) : json::value(status)},
                 {"actor", auto_approval ? std::string("automatic") : ev.actor},
                 {"requester", r.requester},
                 {"integration", text_or_null(r.integration)},
                 {"resource_type", text_or_null(r.resource_type)},
                 {"bundle", text_or_null(r.bundle)},
                 {"resources", distinct(r, &common::access_unit::resource)},
                 {"permissions", distinct(r, &common::access_unit::permission)},
                 {"units", std::move(units)},
                 {"access_flow", r.flow},
                 {"approval", r.automatic ? "automatic" : "manual"},
                 {"justification", r.justification},
                 {"duration_seconds", r.duration.count()},
                 {"audit_id", ev.id}};
  const auto detail = detail_of(ev);
  if (type == "request.pending_approval" || type == "request.reminder") {
    json::array names;
    for (const auto& n : approvers_of(r, cfg)) names.emplace_back(n);
    d["approvers"] = std::move(names);
    d["commands"] = json::object{{"approve", "apono approve " + id},
                                 {"reject", "apono reject " + id + " --reason REASON"}};
    if (type == "request.reminder") {
      d["reminder"] = detail.contains("reminder") ? detail.at("reminder") : json::value(nullptr);
      d["pending_since"] = common::format_rfc3339(r.created_at);
    }
  } else if (type == "request.expiring_soon") {
    d["ends_at"] = detail_text(detail, "ends_at");
    d["minutes_left"] =
        detail.contains("minutes_left") ? detail.at("minutes_left") : json::value(nullptr);
    d["commands"] =
        json::object{{"connect", "apono access connect " + id},
                     {"request_again", "apono requests again " + id + " -j JUSTIFICATION"}};
  } else if (type == "request.active") {
    d["ends_at"] = detail_text(detail, "ends_at");
    d["commands"] = json::object{{"connect", "apono access connect " + id},
                                 {"details", "apono access-details " + id}};
  } else if (type == "request.rejected" || type == "request.revoked") {
    d["reason"] = detail_text(detail, "reason");
  } else if (type == "request.failed") {
    // A grant given up names its reason in the event; a request nobody decided keeps it.
    auto reason = detail_text(detail, "reason");
    d["reason"] = reason.is_null() ? text_or_null(r.reason) : reason;
  }
  return d;
}

json::object audit_data(const audit_event& ev) {
  return json::object{
      {"id", ev.id},
      {"at", common::format_rfc3339(ev.at)},
      {"actor", ev.actor},
      {"action", ev.action},
      {"request_id", ev.request_id ? json::value(common::format_request_id(ev.request_id))
                                   : json::value(nullptr)},
      {"status", ev.status.empty() ? json::value(nullptr) : json::value(ev.status)},
      {"detail", detail_of(ev)}};
}

std::string envelope(std::string_view type, common::time_point at, json::object data) {
  return json::serialize(json::object{{"type", type},
                                      {"timestamp", common::format_rfc3339(at)},
                                      {"version", payload_version},
                                      {"data", std::move(data)}});
}

}  // namespace

std::string build_payload(std::string_view type, const audit_event& ev,
                          const common::access_request* r, const config& cfg) {
  if (type.starts_with("audit.") || !r) return envelope(type, ev.at, audit_data(ev));
  return envelope(type, ev.at, request_data(type, ev, *r, cfg));
}

std::string test_payload(const audit_event& ev, const std::string& endpoint,
                         const std::string& by) {
  return envelope(test_event, ev.at,
                  json::object{{"endpoint", endpoint},
                               {"requested_by", by},
                               {"audit_id", ev.id},
                               {"message", "a test notification from apono"}});
}

std::string webhook_id(std::int64_t audit_id, std::string_view endpoint, std::string_view type) {
  std::string key(endpoint);
  key.append("/").append(type);
  return "msg_" + std::to_string(audit_id) + "_" + common::sha256_hex(key).substr(0, 8);
}

delivery make_delivery(const std::string& endpoint, const std::string& channel,
                       const audit_event& ev, std::string_view type, std::string payload,
                       common::time_point now, std::chrono::milliseconds max_age) {
  delivery d;
  d.endpoint = endpoint;
  d.channel = channel;
  d.audit_id = ev.id;
  d.request_id = ev.request_id;
  d.event_type = std::string(type);
  d.webhook_id = webhook_id(ev.id, endpoint, type);
  d.payload = std::move(payload);
  d.status = "pending";
  d.next_attempt_at = now;
  d.give_up_at = now + max_age;
  d.created_at = now;
  return d;
}

}  // namespace apono::broker::notify
