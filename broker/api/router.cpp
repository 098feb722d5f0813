// API routes. Handlers parse and check their input strictly (types, sizes) before the service
// sees it, so malformed input ends as a 4xx with a message, never as a 500.
#include "broker/api/router.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <sstream>

#include "broker/api/json_body.hpp"
#include "broker/policy.hpp"
#include "common/duration.hpp"
#include "common/error.hpp"
#include "common/secrets.hpp"

namespace apono::broker::api {

namespace json = boost::json;
namespace net = boost::asio;
using common::api_error;
using common::errc;

namespace {

http::response error_response(errc code, std::string_view message) {
  return http::response{
      common::http_status(code), common::error_body(code, message), "application/json", {}};
}

// Splits `/a/b/c` into {"a","b","c"}; rejects empty and dot segments so path tricks such as
// `/api/v1/../x` or `//` never reach a handler.
std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  std::size_t i = 1;
  if (path.empty() || path[0] != '/') throw api_error(errc::not_found, "no such endpoint");
  while (i <= path.size()) {
    auto j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    auto seg = path.substr(i, j - i);
    if (seg.empty() && j != path.size()) throw api_error(errc::not_found, "no such endpoint");
    if (seg == "." || seg == "..") throw api_error(errc::not_found, "no such endpoint");
    if (!seg.empty()) out.push_back(std::move(seg));
    i = j + 1;
  }
  return out;
}

json::object parse_body(const http::request& req) {
  if (req.body.empty()) return {};
  return parse_json_object(req.body);
}

std::string get_string(const json::object& o, std::string_view key, std::size_t max = 4096) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return {};
  if (!it->value().is_string())
    throw api_error(errc::invalid_argument, "field '" + std::string(key) + "' must be a string");
  const auto& s = it->value().get_string();
  if (s.size() > max)
    throw api_error(errc::invalid_argument,
                    "field '" + std::string(key) + "' is longer than " + std::to_string(max));
  return std::string(s);
}

std::vector<std::string> get_strings(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return {};
  // A single string is accepted as a one-element list, as the CLI's -r takes either.
  if (it->value().is_string()) return {get_string(o, key, 256)};
  if (!it->value().is_array())
    throw api_error(errc::invalid_argument,
                    "field '" + std::string(key) + "' must be a list of strings");
  const auto& a = it->value().get_array();
  if (a.size() > 100)
    throw api_error(errc::invalid_argument,
                    "field '" + std::string(key) + "' has more than 100 entries");
  std::vector<std::string> out;
  for (const auto& e : a) {
    if (!e.is_string() || e.get_string().size() > 256)
      throw api_error(errc::invalid_argument,
                      "field '" + std::string(key) +
                          "' must be a list of strings (each at most 256 characters)");
    out.emplace_back(e.get_string());
  }
  return out;
}

bool get_bool(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return false;
  if (!it->value().is_bool())
    throw api_error(errc::invalid_argument,
                    "field '" + std::string(key) + "' must be true or false");
  return it->value().get_bool();
}

std::optional<std::chrono::seconds> get_duration(const json::object& o) {
  if (auto it = o.find("duration_seconds"); it != o.end() && !it->value().is_null()) {
    const auto& v = it->value();
    std::int64_t secs = 0;
    if (v.is_int64())
      secs = v.get_int64();
    else if (v.is_uint64() && v.get_uint64() < (1ull << 40))
      secs = static_cast<std::int64_t>(v.get_uint64());
    else
      throw api_error(errc::invalid_argument, "field 'duration_seconds' must be a whole number");
    if (secs <= 0 || secs > 366 * 86400)
      throw api_error(errc::invalid_argument,
                      "field 'duration_seconds' must be between 1 and 31622400");
    return std::chrono::seconds{secs};
  }
  auto it = o.find("duration");
  if (it == o.end() || it->value().is_null()) return std::nullopt;
  std::string text;
  if (it->value().is_string())
    text = get_string(o, "duration", 64);
  else if (it->value().is_number())
    text = std::to_string(it->value().to_number<double>());
  else
    throw api_error(errc::invalid_argument,
                    "field 'duration' must be a string such as \"1h30m\" or hours as a number");
  auto d = common::parse_duration(text);
  if (!d)
    throw api_error(errc::invalid_argument,
                    "invalid duration '" + text + "': use hours (0.75) or 90s, 45m, 1h30m");
  return d;
}

void reject_unknown_fields(const json::object& o, std::initializer_list<std::string_view> known) {
  for (const auto& kv : o) {
    bool ok = false;
    for (auto k : known) ok = ok || kv.key() == k;
    if (!ok)
      throw api_error(errc::invalid_argument, "unknown field '" + std::string(kv.key()) + "'");
  }
}

std::int64_t path_request_id(const std::string& s) {
  auto id = common::parse_request_id(s);
  if (!id)
    throw api_error(errc::not_found,
                    "'" + s.substr(0, 64) + "' is not a request id such as AR-00012");
  return *id;
}

std::optional<std::int64_t> query_int(const std::map<std::string, std::string>& q,
                                      const std::string& key, std::int64_t lo, std::int64_t hi) {
  auto it = q.find(key);
  if (it == q.end() || it->second.empty()) return std::nullopt;
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  if (ec != std::errc{} || p != it->second.data() + it->second.size() || v < lo || v > hi)
    throw api_error(errc::invalid_argument, "query parameter '" + key + "' must be a number from " +
                                                std::to_string(lo) + " to " + std::to_string(hi));
  return v;
}

json::value event_json(const status_event& e) {
  return json::object{{"id", e.id},
                      {"at", common::format_rfc3339(e.at)},
                      {"request_id", e.request_id},
                      {"status", e.status},
                      {"action", e.action},
                      {"actor", e.actor},
                      {"ends_at", e.ends_at ? json::value(common::format_rfc3339(*e.ends_at))
                                            : json::value(nullptr)}};
}

json::array strings_json(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

// A request as the API shows it: the stored request, and who may approve it under its flow as
// configured now (absent when the flow is gone from the config).
json::value request_json(const config& cfg, const common::access_request& r) {
  auto v = common::to_json(r);
  if (const auto* f = cfg.find_flow(r.flow))
    v.get_object()["approvers"] = strings_json(approver_names(cfg, *f, r.requester));
  return v;
}

json::array requests_json(const config& cfg, const std::vector<common::access_request>& rs) {
  json::array a;
  for (const auto& r : rs) a.push_back(request_json(cfg, r));
  return a;
}

// Cursors are opaque to clients; this one is the id the next page starts below, tagged with a
// version so its form can change without old cursors being misread.
std::string make_cursor(std::int64_t before_id) {
  return "v1." + std::to_string(before_id);
}

std::int64_t parse_cursor(const std::string& cursor) {
  std::int64_t id = 0;
  if (cursor.size() > 3 && cursor.size() < 24 && cursor.starts_with("v1.")) {
    const char* b = cursor.data() + 3;
    const char* e = cursor.data() + cursor.size();
    auto [p, ec] = std::from_chars(b, e, id);
    if (ec == std::errc{} && p == e && id > 0) return id;
  }
  throw api_error(errc::invalid_argument,
                  "query parameter 'cursor' is not a cursor this broker gave out");
}

// The path without the query, which can hold a cursor or other values not worth logging.
std::string path_of(const std::string& target) {
  return target.substr(0, std::min<std::size_t>(target.find('?'), 200));
}

// SHA-256 hex of the request's bearer token; throws unauthenticated when there is none.
std::string bearer_hash(const http::request& req) {
  constexpr std::string_view prefix = "Bearer ";
  if (req.authorization.size() <= prefix.size() ||
      !std::equal(prefix.begin(), prefix.end(), req.authorization.begin(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) ==
               std::tolower(static_cast<unsigned char>(b));
      }))
    throw api_error(errc::unauthenticated, "missing bearer token: run apono login");
  auto token = std::string_view(req.authorization).substr(prefix.size());
  if (token.size() > 512) throw api_error(errc::unauthenticated, "invalid or revoked token");
  return common::sha256_hex(token);
}

// The fields of a create request (also what a plan takes).
create_input create_input_of(const json::object& body) {
  reject_unknown_fields(body, {"integration", "resource_type", "resources", "permissions", "bundle",
                               "duration", "duration_seconds", "justification", "dry_run"});
  create_input in;
  in.integration = get_string(body, "integration", 256);
  in.resource_type = get_string(body, "resource_type", 256);
  in.resources = get_strings(body, "resources");
  in.permissions = get_strings(body, "permissions");
  in.bundle = get_string(body, "bundle", 256);
  in.duration = get_duration(body);
  in.justification = get_string(body, "justification");
  in.dry_run = get_bool(body, "dry_run");
  return in;
}

json::value plan_json(const request_plan& p) {
  json::array groups;
  for (const auto& g : p.groups) {
    json::array units;
    for (const auto& r : g.resources)
      for (const auto& perm : g.permissions)
        units.push_back(json::object{{"resource", r}, {"permission", perm}});
    groups.push_back(json::object{{"flow", g.flow},
                                  {"automatic", g.automatic},
                                  {"approvers", strings_json(g.approvers)},
                                  {"max_duration_seconds", g.max_duration.count()},
                                  {"duration_seconds", g.duration.count()},
                                  {"justification_required", g.justification_required},
                                  {"integration", g.integration},
                                  {"resource_type", g.resource_type},
                                  {"resources", strings_json(g.resources)},
                                  {"permissions", strings_json(g.permissions)},
                                  {"units", std::move(units)}});
  }
  json::array refused;
  for (const auto& r : p.refused)
    refused.push_back(json::object{{"integration", r.integration},
                                   {"resource", r.resource},
                                   {"permission", r.permission},
                                   {"reason", r.reason}});
  return json::object{{"groups", std::move(groups)}, {"refused", std::move(refused)}};
}

// Who is signed in, with a browser session until when, and where the event feed stands (a page
// starts its long-poll there instead of reading the whole history first).
json::object session_json(const config& cfg, const caller& who, const portal::session* browser,
                          std::int64_t events_after) {
  const auto* u = cfg.find_user(who.user);
  bool approver = false;
  for (const auto& f : cfg.flows) approver = approver || is_approver(cfg, f, who.user);
  json::object o{{"user", who.user},
                 {"email", u ? u->email : ""},
                 {"admin", who.admin},
                 {"approver", approver},
                 {"events_after", events_after}};
  if (browser) {
    o["idle_timeout_seconds"] = browser->idle_timeout.count();
    o["expires_at"] = common::format_rfc3339(browser->expires_at);
  }
  return o;
}

json::object principals_json(const principals& p) {
  return json::object{{"users", strings_json(p.users)}, {"groups", strings_json(p.groups)}};
}

// The access flows as configured, in config order: what GET /api/v1/access-flows answers.
json::array flows_json(const config& cfg) {
  json::array out;
  for (const auto& f : cfg.flows) {
    json::array targets;
    for (const auto& t : f.targets)
      targets.push_back(json::object{{"integration", t.integration},
                                     {"resources", strings_json(t.resources)},
                                     {"permissions", strings_json(t.permissions)}});
    out.push_back(json::object{{"name", f.name},
                               {"approval", f.automatic ? "automatic" : "manual"},
                               {"requestors", principals_json(f.requestors)},
                               {"approvers", principals_json(f.approvers)},
                               {"targets", std::move(targets)},
                               {"max_duration_seconds", f.max_duration.count()},
                               {"default_duration_seconds", f.default_duration.count()},
                               {"justification_required", f.justification_required}});
  }
  return out;
}

api_error cross_site() {
  return api_error(errc::permission_denied, "cross-site request refused");
}

bool has_header(const http::response& res, std::string_view name) {
  return std::any_of(res.headers.begin(), res.headers.end(), [&](const auto& h) {
    return h.first.size() == name.size() &&
           std::equal(name.begin(), name.end(), h.first.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) ==
                    std::tolower(static_cast<unsigned char>(b));
           });
  });
}

}  // namespace

router::router(config_holder& cfg, service& svc, store& st, metrics& m, event_hub& hub,
               std::function<bool()> ready)
    : config_(cfg), service_(svc), store_(st), metrics_(m), hub_(hub), ready_(std::move(ready)) {}

router::identity router::authenticate(const http::request& req, bool activity) const {
  // A bearer token wins: the CLI's calls are what they always were, cookie or not.
  if (req.authorization.empty()) {
    if (auto secret = portal::session_cookie(req); !secret.empty()) {
      // Before the session is even looked at, so a forged call changes nothing at all.
      if (!portal::is_safe_method(req.method) && !portal::is_same_origin(req)) throw cross_site();
      auto s = sessions_.resolve(secret, activity);
      return identity{s.who, std::move(s)};
    }
  }
  auto hash = bearer_hash(req);
  auto cfg = config_.get();
  for (const auto& u : cfg->users)
    for (const auto& h : u.token_hashes)
      if (common::constant_time_equal(h, hash)) return identity{caller{u.name, u.admin}, {}};
  if (auto c = login_.token_caller(hash)) return identity{*c, {}};
  throw api_error(errc::unauthenticated, "invalid or revoked token");
}

http::response router::browser_session(const http::request& req) {
  const auto& m = req.method;
  if (m != "POST" && m != "DELETE")
    throw api_error(errc::not_found,
                    "no such endpoint: " + m.substr(0, 32) + " " + "/api/v1/browser-session");
  // Signing in and out are state changes too: a page elsewhere must not sign a browser into
  // an account of its choosing, or out of its own.
  if (!portal::is_same_origin(req)) throw cross_site();
  if (m == "DELETE") {
    sessions_.end(portal::session_cookie(req));
    return http::response{204, "", "", {{"Set-Cookie", portal::clear_cookie()}}};
  }
  auto body = parse_body(req);
  reject_unknown_fields(body, {"username", "password"});
  const auto username = get_string(body, "username", 256);
  const auto password = get_string(body, "password", 1024);
  if (username.empty() || password.empty())
    throw api_error(errc::invalid_argument, "fields 'username' and 'password' are required");
  auto checked = login_.check_password(username, password, req.remote, portal::client_id);
  if (checked.outcome == login::password_check::throttled) {
    auto res =
        error_response(errc::resource_exhausted, login::throttled_message(checked.retry_after));
    res.headers.emplace_back("Retry-After", login::retry_after_seconds(checked.retry_after));
    return res;
  }
  if (checked.outcome != login::password_check::ok)
    throw api_error(errc::unauthenticated, "invalid username or password");
  const auto now = clock_.now();
  auto [s, secret] = sessions_.start(
      username, portal::session_cookie(req), [&](store_tx& tx, const std::string& session_id) {
        login::signed_in(tx, username, now, portal::client_id, {{"session_id", session_id}});
      });
  spdlog::info("portal: user '{}' signed in (session {})", s.who.user,
               portal::sessions::session_id(s.hash));
  auto res = json_response(200, session_json(*config_.get(), s.who, &s, service_.feed_position()));
  res.headers.emplace_back("Set-Cookie", portal::set_cookie(secret));
  return res;
}

// GCC 12 follows Asio's recycling allocator for this coroutine's frame into aligned_alloc and
// then sees the frame freed by the frame's own operator delete, which is Asio's matching
// deallocation: a false -Wmismatched-new-delete that -Werror would turn into a failed build.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
net::awaitable<http::response> router::handle(http::request req) {
  http::response res;
  try {
    auto parsed = boost::urls::parse_origin_form(req.target);
    if (!parsed) throw api_error(errc::invalid_argument, "malformed request target");
    // An encoded slash would become a separator once decoded: `/a%2Fb` would be `/a/b` here
    // but one segment to a proxy routing on the raw path, so it names no endpoint.
    std::string_view raw_path = parsed->encoded_path();
    if (raw_path.find("%2F") != std::string_view::npos ||
        raw_path.find("%2f") != std::string_view::npos)
      throw api_error(errc::not_found, "no such endpoint: an encoded '/' is not a separator");
    std::string path = parsed->path();  // percent-decoded
    std::map<std::string, std::string> query;
    for (auto p : parsed->params()) query[p.key] = p.value;

    if (portal::is_portal_path(path)) {
      res = portal_files_.serve(req, path);  // from memory: no need for the pool
    } else if (req.method == "GET" && path == "/api/v1/events") {
      // A page left open long-polls all day: that is no sign of someone at the keyboard.
      std::function<caller()> auth = [&] { return authenticate(req, false).who; };
      auto who = co_await pool_.run(std::move(auth));
      auto after = query_int(query, "after", 0, INT64_MAX).value_or(0);
      auto timeout_s = query_int(query, "timeout", 0, 25).value_or(25);
      auto timeout =
          std::min<std::chrono::milliseconds>(std::chrono::seconds{timeout_s}, max_poll_);
      auto deadline = std::chrono::steady_clock::now() + timeout;
      std::int64_t next = after;
      std::vector<status_event> events;
      while (true) {
        auto seen = hub_.sequence();
        std::function<std::vector<status_event>()> read = [&] {
          return service_.events_after(who, next, next);
        };
        events = co_await pool_.run(std::move(read));
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        // At shutdown the wait returns at once: answer now rather than spin to the deadline.
        if (!events.empty() || left <= std::chrono::milliseconds{0} || hub_.stopped()) break;
        co_await hub_.wait(seen, left);
      }
      json::array a;
      for (const auto& e : events) a.push_back(event_json(e));
      res = json_response(200, json::object{{"events", std::move(a)}, {"next_after", next}});
    } else if (slack::app::handles(path)) {
      // Outside /api/v1 and its tokens: Slack signs each request, and the app checks that
      // before it reads the body.
      if (!slack_) throw api_error(errc::not_found, "Slack is not configured on this broker");
      std::function<http::response()> work = [&] { return slack_->handle(req, path); };
      res = co_await pool_.run(std::move(work));
    } else if (path == "/healthz") {
      res = dispatch(req, path, query);  // liveness: answered even when the pool is saturated
    } else {
      std::function<http::response()> work = [&] { return dispatch(req, path, query); };
      res = co_await pool_.run(std::move(work));
    }
  } catch (const api_error& e) {
    res = error_response(e.code(), e.what());
  } catch (const overloaded& e) {
    spdlog::warn("{} {}: {}", req.method, path_of(req.target), e.what());
    res = error_response(errc::unavailable, std::string(e.what()) + "; try again shortly");
    res.headers.emplace_back("Retry-After", "1");
  } catch (const store_unavailable& e) {
    // The store is down or saturated: nothing happened, and the client should come back.
    spdlog::warn("{} {}: {}", req.method, path_of(req.target), e.what());
    res = error_response(errc::unavailable, "the broker's store is unavailable; try again shortly");
    res.headers.emplace_back("Retry-After", "1");
  } catch (const std::exception& e) {
    spdlog::error("{} {}: internal error: {}", req.method, req.target.substr(0, 200), e.what());
    res = error_response(errc::internal, "internal error");
  }
  // What every answer carries (portal pages have these and more): no sniffing a JSON body
  // into something else, and no URL, which may hold an id or a cursor, handed to another site.
  if (!has_header(res, "X-Content-Type-Options"))
    res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (!has_header(res, "Referrer-Policy"))
    res.headers.emplace_back("Referrer-Policy", "no-referrer");
  metrics_.count_http(res.status);
  co_return res;
}

#pragma GCC diagnostic pop

http::response router::dispatch(const http::request& req, const std::string& path,
                                const std::map<std::string, std::string>& query) {
  const auto& m = req.method;
  // Served for GET only: another method is an unknown endpoint here as everywhere else.
  if ((path == "/healthz" || path == "/readyz" || path == "/metrics") && m != "GET")
    throw api_error(errc::not_found, "no such endpoint: " + m.substr(0, 32) + " " + path);
  if (path == "/healthz") return json_response(200, json::object{{"status", "ok"}});
  if (path == "/readyz") {
    bool ok = ready_ ? ready_() : true;
    json::object body{{"status", ok ? "ready" : "not ready"}};
    if (readiness_details_)
      if (auto details = readiness_details_(); !details.empty())
        body["details"] = std::move(details);
    return json_response(ok ? 200 : 503, body);
  }
  if (path == "/metrics") {
    http::response res;
    res.body = render_metrics();
    res.content_type = "text/plain; version=0.0.4";
    return res;
  }
  if (login::handles(path)) return login_.handle(req, path);
  // Public, like a host key: admins fetch it for sshd's TrustedUserCAKeys before any user
  // exists. Plain text, so `curl .../ssh/ca > ca.pub` gives the file sshd wants.
  if (path == "/api/v1/ssh/ca") {
    if (m != "GET") throw api_error(errc::not_found, "no such endpoint: " + m + " " + path);
    if (!ssh_ca_)
      throw api_error(errc::unavailable, "this broker has no SSH certificate authority");
    return http::response{200, ssh_ca_->public_key_line() + "\n", "text/plain", {}};
  }

  auto seg = split_path(path);
  if (seg.size() < 3 || seg[0] != "api" || seg[1] != "v1")
    throw api_error(errc::not_found, "no such endpoint: " + path.substr(0, 200));
  if (seg.size() == 3 && seg[2] == "browser-session") return browser_session(req);
  const auto auth = authenticate(req);
  const auto& who = auth.who;
  auto cfg = config_.get();
  auto method_not_allowed = [&]() -> http::response {
    throw api_error(errc::not_found, "no such endpoint: " + m + " " + path.substr(0, 200));
  };
  const auto& top = seg[2];

  if (top == "session" && seg.size() == 3) {
    if (m != "GET") return method_not_allowed();
    return json_response(200, session_json(*cfg, who, auth.browser ? &*auth.browser : nullptr,
                                           service_.feed_position()));
  }
  if (top == "session" && seg.size() == 4 && seg[3] == "revoke") {
    if (m != "POST") return method_not_allowed();
    reject_unknown_fields(parse_body(req), {});
    if (auth.browser) {  // the calling credential is a browser session: it ends
      sessions_.end(portal::session_cookie(req));
      auto res = json_response(200, json::object{{"revoked", true}});
      res.headers.emplace_back("Set-Cookie", portal::clear_cookie());
      return res;
    }
    return login_.revoke(who, bearer_hash(req));
  }

  if (top == "integrations") {
    if (m != "GET") return method_not_allowed();
    if (seg.size() == 3) {
      json::array a;
      for (const auto* i : visible_integrations(*cfg, who.user))
        a.push_back(json::object{{"id", i->id},
                                 {"name", i->name},
                                 {"type", i->type},
                                 {"resource_types", json::array{json::value(i->resource_type)}}});
      return json_response(200, a);
    }
    if (seg.size() == 5 && seg[4] == "resource-types") {
      const auto* i = cfg->find_integration(seg[3]);
      if (!i || visible_resources(*cfg, who.user, *i).empty())
        throw api_error(errc::not_found, "unknown integration '" + seg[3].substr(0, 100) + "'");
      return json_response(
          200, json::array{json::object{
                   {"id", i->resource_type}, {"name", i->resource_type}, {"integration", i->id}}});
    }
    return method_not_allowed();
  }

  if ((top == "resources" || top == "permissions") && seg.size() == 3) {
    if (m != "GET") return method_not_allowed();
    auto iq = query.find("integration");
    if (iq == query.end() || iq->second.empty())
      throw api_error(errc::invalid_argument, "query parameter 'integration' is required");
    const auto* i = cfg->find_integration(iq->second);
    if (!i || visible_resources(*cfg, who.user, *i).empty())
      throw api_error(errc::not_found, "unknown integration '" + iq->second.substr(0, 100) + "'");
    if (auto t = query.find("resource_type");
        t != query.end() && !t->second.empty() && t->second != i->resource_type)
      throw api_error(errc::not_found, "integration '" + i->id + "' has no resource type '" +
                                           t->second.substr(0, 100) + "'");
    json::array a;
    auto names = top == "resources" ? visible_resources(*cfg, who.user, *i)
                                    : visible_permissions(*cfg, who.user, *i);
    for (const auto& n : names)
      a.push_back(json::object{
          {"id", n}, {"name", n}, {"integration", i->id}, {"resource_type", i->resource_type}});
    return json_response(200, a);
  }

  if (top == "bundles" && seg.size() == 3) {
    if (m != "GET") return method_not_allowed();
    json::array a;
    for (const auto* b : visible_bundles(*cfg, who.user)) {
      json::array targets;
      for (const auto& t : b->targets) {
        json::array res, perms;
        for (const auto& r : t.resources) res.emplace_back(r);
        for (const auto& p : t.permissions) perms.emplace_back(p);
        targets.push_back(json::object{
            {"integration", t.integration}, {"resources", res}, {"permissions", perms}});
      }
      a.push_back(json::object{{"id", b->name}, {"name", b->name}, {"targets", targets}});
    }
    return json_response(200, a);
  }

  if (top == "access-requests") {
    if (seg.size() == 3 && m == "POST") {
      auto in = create_input_of(parse_body(req));
      auto r = service_.create(who, in);
      if (in.dry_run) {
        auto v = request_json(*cfg, r);
        v.get_object()["id"] = nullptr;
        return json_response(200, json::object{{"valid", true}, {"request", v}});
      }
      return json_response(201, request_json(*cfg, r));
    }
    if (seg.size() == 3 && m == "GET") {
      auto days = query_int(query, "days", 1, 3650);
      auto scope = list_scope::mine;
      if (auto s = query.find("scope"); s != query.end()) {
        if (s->second == "approvable")
          scope = list_scope::approvable;
        else if (s->second == "all")
          scope = list_scope::all;
        else if (s->second != "mine" && !s->second.empty())
          throw api_error(errc::invalid_argument, "scope must be mine, approvable or all");
      }
      page_query page;
      page.limit = static_cast<std::size_t>(query_int(query, "limit", 1, 500).value_or(100));
      if (auto cur = query.find("cursor"); cur != query.end() && !cur->second.empty())
        page.before_id = parse_cursor(cur->second);
      auto listed = service_.list(
          who, scope, days ? std::optional<int>(static_cast<int>(*days)) : std::nullopt, page);
      auto res = json_response(200, requests_json(*cfg, listed.requests));
      // The body stays a plain array, as clients from before paging expect; the way on is in
      // headers (RFC 8288 Link, and the bare cursor for clients that do not parse links).
      if (listed.next_before) {
        auto cursor = make_cursor(*listed.next_before);
        std::string next = "/api/v1/access-requests?limit=" + std::to_string(page.limit);
        if (days) next += "&days=" + std::to_string(*days);
        if (auto sc = query.find("scope"); sc != query.end() && !sc->second.empty())
          next += "&scope=" + sc->second;  // validated above: a plain word
        next += "&cursor=" + cursor;
        res.headers.emplace_back("Link", "<" + next + ">; rel=\"next\"");
        res.headers.emplace_back("X-Next-Cursor", cursor);
      }
      return res;
    }
    if (seg.size() == 4 && seg[3] == "plan" && m == "POST")
      return json_response(200, plan_json(service_.plan(who, create_input_of(parse_body(req)))));
    if (seg.size() == 4 && m == "GET")
      return json_response(200, request_json(*cfg, service_.get(who, path_request_id(seg[3]))));
    if (seg.size() == 5 && seg[4] == "events" && m == "GET") {
      json::array a;
      for (const auto& e : service_.request_events(who, path_request_id(seg[3])))
        a.push_back(event_json(e));
      return json_response(200, json::object{{"events", std::move(a)}});
    }
    if (seg.size() == 5 && m == "POST") {
      auto id = path_request_id(seg[3]);
      auto body = parse_body(req);
      const auto& action = seg[4];
      if (action == "approve") {
        reject_unknown_fields(body, {"comment"});
        (void)get_string(body, "comment");  // not kept, but checked like every field
        return json_response(200, request_json(*cfg, service_.approve(who, id)));
      }
      if (action == "reject") {
        reject_unknown_fields(body, {"reason"});
        return json_response(
            200, request_json(*cfg, service_.reject(who, id, get_string(body, "reason"))));
      }
      if (action == "revoke") {
        reject_unknown_fields(body, {"reason"});
        return json_response(
            200, request_json(*cfg, service_.revoke(who, id, get_string(body, "reason"))));
      }
      if (action == "reset-credentials") {
        reject_unknown_fields(body, {});
        return json_response(200, common::to_json(service_.reset_credentials(who, id)));
      }
      if (action == "request-again") {
        reject_unknown_fields(body, {"justification", "duration", "duration_seconds"});
        return json_response(201, request_json(*cfg, service_.request_again(
                                                         who, id, get_string(body, "justification"),
                                                         get_duration(body))));
      }
    }
    return method_not_allowed();
  }

  if (top == "access-sessions") {
    if (seg.size() == 5 && seg[4] == "ssh-certificate") {
      if (m != "POST") return method_not_allowed();
      auto body = parse_body(req);
      reject_unknown_fields(body, {"public_key", "resource", "permission"});
      ssh_certificate_input in;
      in.public_key = get_string(body, "public_key", 16384);
      if (in.public_key.empty())
        throw api_error(errc::invalid_argument,
                        "field 'public_key' is required: the session's ssh-ed25519 public key");
      in.resource = get_string(body, "resource", 256);
      in.permission = get_string(body, "permission", 256);
      return json_response(
          201, common::to_json(service_.ssh_certificate(who, path_request_id(seg[3]), in)));
    }
    if (m != "GET") return method_not_allowed();
    if (seg.size() == 3) {
      json::array a;
      page_query active;
      active.limit = 500;  // a person's grants active at once; more would be a list to page
      active.statuses = {common::status::active};
      for (const auto& r : service_.list(who, list_scope::mine, std::nullopt, active).requests) {
        auto v = common::to_json(r);
        auto& o = v.get_object();
        o["request_id"] = o["id"];
        a.push_back(std::move(v));
      }
      return json_response(200, a);
    }
    if (seg.size() == 5 && seg[4] == "access-details")
      return json_response(200,
                           common::to_json(service_.access_details(who, path_request_id(seg[3]))));
    return method_not_allowed();
  }

  if (top == "access-flows" && seg.size() == 3) {
    if (m != "GET") return method_not_allowed();
    // Who may request what, and who approves: the policy itself, so for admins only (a
    // requester sees what it allows them through the catalog and the plan).
    if (!who.admin) throw api_error(errc::permission_denied, "access flows are for admins");
    return json_response(200, flows_json(*cfg));
  }
  if (top == "notifications") return notifications_.handle(req, seg, query, who);

  if (top == "audit" && seg.size() == 3) {
    if (m != "GET") return method_not_allowed();
    auto after = query_int(query, "after", 0, INT64_MAX).value_or(0);
    auto limit = query_int(query, "limit", 1, 1000).value_or(200);
    std::optional<std::int64_t> rid;
    if (auto q = query.find("request"); q != query.end() && !q->second.empty())
      rid = path_request_id(q->second);
    json::array a;
    for (const auto& ev : service_.audit(who, after, rid, static_cast<std::size_t>(limit))) {
      boost::system::error_code ec;
      auto det = json::parse(ev.detail, ec);
      a.push_back(json::object{
          {"id", ev.id},
          {"at", common::format_rfc3339(ev.at)},
          {"actor", ev.actor},
          {"action", ev.action},
          {"request_id", ev.request_id ? json::value(common::format_request_id(ev.request_id))
                                       : json::value(nullptr)},
          {"status", ev.status.empty() ? json::value(nullptr) : json::value(ev.status)},
          {"detail", ec ? json::value(json::object{}) : det}});
    }
    return json_response(200, a);
  }

  return method_not_allowed();
}

std::string router::render_metrics() const {
  std::ostringstream out;
  out << "# HELP apono_http_requests_total HTTP requests answered, by status class.\n"
         "# TYPE apono_http_requests_total counter\n";
  for (std::size_t c = 1; c < metrics_.http_by_class.size(); ++c)
    out << "apono_http_requests_total{class=\"" << c << "xx\"} " << metrics_.http_by_class[c].load()
        << "\n";
  auto counter = [&](const char* name, const char* help, std::uint64_t v) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n"
        << name << " " << v << "\n";
  };
  counter("apono_grants_total", "Access units granted at a target.", metrics_.grants.load());
  counter("apono_grant_failures_total", "Failed grant attempts.", metrics_.grant_failures.load());
  counter("apono_revocations_total", "Access units revoked at a target.",
          metrics_.revocations.load());
  counter("apono_revoke_failures_total", "Failed revoke attempts.",
          metrics_.revoke_failures.load());
  counter("apono_config_reloads_total", "Successful configuration reloads.",
          metrics_.config_reloads.load());
  counter("apono_config_reload_failures_total", "Rejected configuration reloads.",
          metrics_.config_reload_failures.load());
  out << "# HELP apono_event_polls_waiting Event long-polls waiting for a change.\n"
         "# TYPE apono_event_polls_waiting gauge\napono_event_polls_waiting "
      << hub_.waiting() << "\n";
  out << "# HELP apono_notification_deliveries_total Notification attempts by channel and "
         "outcome.\n# TYPE apono_notification_deliveries_total counter\n";
  constexpr const char* outcomes[] = {"delivered", "retried", "dead"};
  for (std::size_t c = 0; c < notify_channels.size(); ++c)
    for (std::size_t o = 0; o < 3; ++o)
      out << "apono_notification_deliveries_total{channel=\"" << notify_channels[c]
          << "\",outcome=\"" << outcomes[o] << "\"} " << metrics_.deliveries[c][o].load() << "\n";
  out << "# HELP apono_requests Access requests by status.\n# TYPE apono_requests gauge\n";
  try {
    for (const auto& [st, n] : store_.count_by_status())
      out << "apono_requests{status=\"" << common::to_string(st) << "\"} " << n << "\n";
    out << "# HELP apono_revocations_stuck Units that failed to revoke 3+ times and are still "
           "REVOKING.\n# TYPE apono_revocations_stuck gauge\napono_revocations_stuck "
        << store_.count_stuck_revocations(3) << "\n";
    const auto d = store_.count_deliveries();
    out << "# HELP apono_notification_deliveries_pending Notifications not yet delivered or dead.\n"
           "# TYPE apono_notification_deliveries_pending gauge\n"
           "apono_notification_deliveries_pending "
        << d.pending << "\n";
    const auto age = d.oldest_pending ? std::max<std::int64_t>(
                                            0, std::chrono::duration_cast<std::chrono::seconds>(
                                                   clock_.now() - *d.oldest_pending)
                                                   .count())
                                      : 0;
    out << "# HELP apono_notification_oldest_pending_seconds Age of the oldest pending "
           "notification.\n# TYPE apono_notification_oldest_pending_seconds gauge\n"
           "apono_notification_oldest_pending_seconds "
        << age << "\n";
    out << "# HELP apono_notification_endpoints_disabled Notification endpoints disabled (410 "
           "Gone) until an admin enables them.\n"
           "# TYPE apono_notification_endpoints_disabled gauge\n"
           "apono_notification_endpoints_disabled "
        << d.endpoints_disabled << "\n";
  } catch (const std::exception& e) {
    spdlog::error("metrics: {}", e.what());
  }
  return out.str();
}

}  // namespace apono::broker::api
