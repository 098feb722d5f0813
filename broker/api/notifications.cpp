// Notification routes: strict input (ids, filters, empty bodies), admins only, pages like the
// request list (newest first, an opaque cursor in X-Next-Cursor and a Link header).
#include "broker/api/notifications.hpp"

#include <boost/json.hpp>

#include <charconv>

#include "broker/api/json_body.hpp"
#include "broker/notify/admin.hpp"
#include "common/error.hpp"

namespace apono::broker::api {

namespace json = boost::json;
using common::api_error;
using common::errc;

namespace {

json::value time_or_null(const std::optional<common::time_point>& t) {
  return t ? json::value(common::format_rfc3339(*t)) : json::value(nullptr);
}

json::object delivery_json(const delivery& d, bool with_payload) {
  json::object o{
      {"id", d.id},
      {"endpoint", d.endpoint},
      {"channel", d.channel},
      {"type", d.event_type},
      {"webhook_id", d.webhook_id},
      {"audit_id", d.audit_id},
      {"request_id",
       d.request_id ? json::value(common::format_request_id(d.request_id)) : json::value(nullptr)},
      {"status", d.status},
      {"attempts", d.attempts},
      {"next_attempt_at",
       d.status == "pending" ? time_or_null(d.next_attempt_at) : json::value(nullptr)},
      {"give_up_at", common::format_rfc3339(d.give_up_at)},
      {"last_error", d.last_error.empty() ? json::value(nullptr) : json::value(d.last_error)},
      {"last_http_status",
       d.last_http_status ? json::value(d.last_http_status) : json::value(nullptr)},
      {"created_at", common::format_rfc3339(d.created_at)},
      {"delivered_at", time_or_null(d.delivered_at)}};
  if (with_payload) {
    boost::system::error_code ec;
    auto body = json::parse(d.payload, ec);
    o["payload"] = ec ? json::value(d.payload) : body;
  }
  return o;
}

json::object endpoint_json(const notify::endpoint_view& e) {
  json::array events;
  for (const auto& ev : e.events) events.emplace_back(ev);
  return json::object{
      {"name", e.name},
      {"channel", e.channel},
      {"url", e.url},
      {"events", std::move(events)},
      {"disabled", e.disabled_at.has_value()},
      {"disabled_at", time_or_null(e.disabled_at)},
      {"disabled_reason", e.disabled_at ? json::value(e.disabled_reason) : json::value(nullptr)}};
}

// The POSTs here take no fields: nothing, or `{}`.
void expect_empty_body(const http::request& req) {
  if (req.body.empty()) return;
  auto o = parse_json_object(req.body);
  if (!o.empty())
    throw api_error(errc::invalid_argument,
                    "unknown field '" + std::string(o.begin()->key()) + "'");
}

std::int64_t number(std::string_view s, std::string_view what) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || p != s.data() + s.size() || v < 1)
    throw api_error(errc::not_found, std::string(what) + " '" + std::string(s.substr(0, 64)) +
                                         "' is not a delivery id");
  return v;
}

// Cursors are opaque to clients (as the request list's): the id the next page starts below.
std::int64_t parse_cursor(const std::string& cursor) {
  if (cursor.size() > 3 && cursor.size() < 24 && cursor.starts_with("v1.")) {
    std::int64_t id = 0;
    const char* b = cursor.data() + 3;
    const char* e = cursor.data() + cursor.size();
    auto [p, ec] = std::from_chars(b, e, id);
    if (ec == std::errc{} && p == e && id > 0) return id;
  }
  throw api_error(errc::invalid_argument,
                  "query parameter 'cursor' is not a cursor this broker gave out");
}

http::response list_deliveries(store& st, const std::map<std::string, std::string>& query) {
  for (const auto& [k, v] : query)
    if (k != "status" && k != "endpoint" && k != "limit" && k != "cursor")
      throw api_error(errc::invalid_argument, "unknown query parameter '" + k.substr(0, 64) + "'");
  delivery_filter f;
  std::string next = "/api/v1/notifications/deliveries?";
  if (auto it = query.find("status"); it != query.end() && !it->second.empty()) {
    if (it->second != "pending" && it->second != "delivered" && it->second != "dead")
      throw api_error(errc::invalid_argument, "status must be pending, delivered or dead");
    f.status = it->second;
    next += "status=" + it->second + "&";
  }
  if (auto it = query.find("endpoint"); it != query.end() && !it->second.empty()) {
    // An endpoint's name, or `email:<user>` for one recipient's deliveries.
    const auto name = it->second.substr(0, it->second.find(':'));
    if (it->second.size() > 200 || name.empty() || name.size() > 64 ||
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") != std::string::npos ||
        it->second.find_first_of("&?#/ \t\r\n") != std::string::npos)
      throw api_error(errc::invalid_argument,
                      "endpoint must be an endpoint name (or email:<user>)");
    f.endpoint = it->second;
    next += "endpoint=" + it->second + "&";
  }
  f.limit = 100;
  if (auto it = query.find("limit"); it != query.end() && !it->second.empty()) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
    if (ec != std::errc{} || p != it->second.data() + it->second.size() || v < 1 || v > 500)
      throw api_error(errc::invalid_argument,
                      "query parameter 'limit' must be a number from 1 to 500");
    f.limit = static_cast<std::size_t>(v);
  }
  if (auto it = query.find("cursor"); it != query.end() && !it->second.empty())
    f.before_id = parse_cursor(it->second);
  std::vector<delivery> page;
  st.read([&](store_tx& tx) { page = tx.list_deliveries(f); });
  json::array a;
  for (const auto& d : page) a.push_back(delivery_json(d, false));
  auto res = json_response(200, a);
  if (page.size() == f.limit) {
    auto cursor = "v1." + std::to_string(page.back().id);
    next += "limit=" + std::to_string(f.limit) + "&cursor=" + cursor;
    res.headers.emplace_back("Link", "<" + next + ">; rel=\"next\"");
    res.headers.emplace_back("X-Next-Cursor", cursor);
  }
  return res;
}

}  // namespace

http::response notifications::handle(const http::request& req, const std::vector<std::string>& seg,
                                     const std::map<std::string, std::string>& query,
                                     const caller& who) const {
  const auto& m = req.method;
  auto no_endpoint = [&]() -> http::response {
    throw api_error(errc::not_found, "no such endpoint: " + m.substr(0, 32) + " " +
                                         req.target.substr(0, req.target.find('?')).substr(0, 200));
  };
  if (seg.size() < 4) return no_endpoint();
  const auto& what = seg[3];
  if (what != "endpoints" && what != "deliveries") return no_endpoint();
  if (!who.admin) throw api_error(errc::permission_denied, "notifications are for admins");
  auto cfg = config_.get();
  auto changed = [this] {
    if (changed_) changed_();
  };

  if (what == "endpoints") {
    if (seg.size() == 4 && m == "GET") {
      json::array a;
      for (const auto& e : notify::list_endpoints(store_, *cfg)) a.push_back(endpoint_json(e));
      return json_response(200, a);
    }
    if (seg.size() == 6 && m == "POST" && seg[5] == "test") {
      expect_empty_body(req);
      auto d = notify::send_test(store_, *cfg, clock_, seg[4], who.user);
      changed();
      return json_response(202, delivery_json(d, false));
    }
    if (seg.size() == 6 && m == "POST" && seg[5] == "enable") {
      expect_empty_body(req);
      auto e = notify::enable_endpoint(store_, *cfg, clock_, seg[4], who.user);
      changed();
      return json_response(200, endpoint_json(e));
    }
    return no_endpoint();
  }

  if (seg.size() == 4 && m == "GET") return list_deliveries(store_, query);
  if (seg.size() == 5 && m == "GET") {
    auto id = number(seg[4], "delivery");
    std::optional<delivery> d;
    store_.read([&](store_tx& tx) { d = tx.get_delivery(id); });
    if (!d) throw api_error(errc::not_found, "no delivery " + std::to_string(id));
    return json_response(200, delivery_json(*d, true));
  }
  if (seg.size() == 6 && m == "POST" && seg[5] == "redeliver") {
    expect_empty_body(req);
    auto d = notify::redeliver(store_, *cfg, clock_, number(seg[4], "delivery"), who.user);
    changed();
    return json_response(200, delivery_json(d, false));
  }
  return no_endpoint();
}

}  // namespace apono::broker::api
