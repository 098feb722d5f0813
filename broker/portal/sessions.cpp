// Browser sessions. The secret lives only in the browser's cookie; the store has its SHA-256,
// which is also all that logs and the audit trail ever name (its first 12 hex digits).
#include "broker/portal/sessions.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/error.hpp"
#include "common/secrets.hpp"

namespace apono::broker::portal {

namespace json = boost::json;
using common::api_error;
using common::errc;

namespace {

// 256 random bits in unpadded base64url.
constexpr std::size_t secret_length = 43;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool well_formed(std::string_view secret) {
  return secret.size() == secret_length && std::all_of(secret.begin(), secret.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
         });
}

// The first value of header `name` (lower case), or empty.
std::string_view header(const http::request& req, std::string_view name) {
  for (const auto& [n, v] : req.headers)
    if (n == name) return v;
  return {};
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// `host[:port]` (`[v6][:port]`) as a lower-case host and a port, 443 when none is given (an
// Origin leaves the scheme's default port out); nullopt for anything else.
std::optional<std::pair<std::string, unsigned>> authority(std::string_view a) {
  if (a.empty() || a.find_first_of("/?#@ ") != std::string_view::npos) return std::nullopt;
  std::string_view host = a;
  std::string_view port;
  if (a.front() == '[') {
    auto close = a.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = a.substr(0, close + 1);
    auto rest = a.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else if (auto colon = a.rfind(':'); colon != std::string_view::npos) {
    host = a.substr(0, colon);
    port = a.substr(colon + 1);
  }
  unsigned number = 443;
  if (!port.empty()) {
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (ec != std::errc{} || end != port.data() + port.size() || number == 0 || number > 65535)
      return std::nullopt;
  } else if (a.back() == ':') {
    return std::nullopt;
  }
  if (host.empty()) return std::nullopt;
  return std::pair{lower(host), number};
}

audit_event logout_event(common::time_point now, const std::string& user, const std::string& hash) {
  audit_event ev;
  ev.at = now;
  ev.actor = user;
  ev.action = "auth.logout";
  ev.detail = json::serialize(
      json::object{{"client_id", client_id}, {"session_id", sessions::session_id(hash)}});
  return ev;
}

}  // namespace

std::string session_cookie(const http::request& req) {
  for (const auto& [name, value] : req.headers) {
    if (name != "cookie") continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      auto semi = rest.find(';');
      auto pair = trim(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      auto eq = pair.find('=');
      if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != cookie_name) continue;
      auto v = trim(pair.substr(eq + 1));
      // RFC 6265 §4.1.1 allows the value in double quotes.
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return std::string(v.substr(0, 512));
    }
  }
  return {};
}

std::string set_cookie(std::string_view secret) {
  return std::string(cookie_name) + "=" + std::string(secret) +
         "; Path=/; Secure; HttpOnly; SameSite=Strict";
}

std::string clear_cookie() {
  return std::string(cookie_name) + "=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0";
}

bool is_safe_method(std::string_view method) noexcept {
  return method == "GET" || method == "HEAD" || method == "OPTIONS";
}

bool is_same_origin(const http::request& req) {
  // A page on another site can make the browser send the cookie, but not this header: setting
  // it needs a CORS preflight, which the broker never grants.
  if (trim(header(req, "x-apono-csrf")) != "1") return false;
  const auto site = lower(trim(header(req, "sec-fetch-site")));
  if (!site.empty() && site != "same-origin") return false;
  const auto origin = trim(header(req, "origin"));
  if (origin.empty()) return site == "same-origin";
  constexpr std::string_view https = "https://";
  if (origin.size() <= https.size() || lower(origin.substr(0, https.size())) != https) return false;
  auto theirs = authority(origin.substr(https.size()));
  auto ours = authority(trim(header(req, "host")));
  return theirs && ours && *theirs == *ours;
}

sessions::sessions(config_holder& cfg, store& st, const common::clock& clock)
    : config_(cfg), store_(st), clock_(clock) {}

std::chrono::milliseconds sessions::touch_interval(std::chrono::seconds idle) {
  return std::min<std::chrono::milliseconds>(std::chrono::minutes{1},
                                             std::chrono::milliseconds{idle} / 10);
}

std::string sessions::session_id(const std::string& hash) {
  return hash.substr(0, 12);
}

std::pair<session, std::string> sessions::start(
    const std::string& user, std::string_view replaced,
    const std::function<void(store_tx&, const std::string& session_id)>& also) {
  const auto cfg = config_.get();
  const auto* u = cfg->find_user(user);
  if (!u) throw api_error(errc::unauthenticated, "invalid username or password");
  const auto now = clock_.now();
  auto secret = common::base64url(common::random_bytes(32));
  session s{caller{u->name, u->admin}, now + cfg->portal.session_lifetime, cfg->portal.idle_timeout,
            common::sha256_hex(secret)};
  const std::string old_hash = well_formed(replaced) ? common::sha256_hex(replaced) : "";
  store_.transact([&](store_tx& tx) {
    // A sign-in over a live session replaces it: one browser, one session.
    if (!old_hash.empty()) (void)tx.delete_browser_session(old_hash);
    tx.insert_browser_session(s.hash, u->name, now, s.expires_at, now - cfg->portal.idle_timeout);
    also(tx, session_id(s.hash));
  });
  return {std::move(s), std::move(secret)};
}

session sessions::resolve(std::string_view secret, bool activity) const {
  auto expired = [] { return api_error(errc::unauthenticated, std::string(expired_message)); };
  if (!well_formed(secret)) throw expired();
  const auto hash = common::sha256_hex(secret);
  const auto now = clock_.now();
  const auto cfg = config_.get();
  auto row = store_.find_browser_session(hash);
  if (!row) throw expired();
  const auto idle = cfg->portal.idle_timeout;
  if (now >= row->expires_at || now >= row->last_seen_at + idle) {
    store_.transact([&](store_tx& tx) { (void)tx.delete_browser_session(hash); });
    spdlog::info("portal: session {} of user '{}' ended ({})", session_id(hash), row->user,
                 now >= row->expires_at ? "lifetime" : "idle");
    throw expired();
  }
  const auto* u = cfg->find_user(row->user);
  if (!u) throw expired();  // removed from the config: their sessions go with them
  const auto interval = touch_interval(idle);
  if (activity && now - row->last_seen_at >= interval)
    (void)store_.touch_browser_session(hash, now, interval);
  return session{caller{u->name, u->admin}, row->expires_at, idle, hash};
}

void sessions::end(std::string_view secret) const {
  if (!well_formed(secret)) return;
  const auto hash = common::sha256_hex(secret);
  auto row = store_.find_browser_session(hash);
  if (!row) return;
  const auto now = clock_.now();
  bool ended = false;
  store_.transact([&](store_tx& tx) {
    ended = tx.delete_browser_session(hash);
    if (ended) tx.append_audit(logout_event(now, row->user, hash));
  });
  if (ended) spdlog::info("portal: user '{}' signed out (session {})", row->user, session_id(hash));
}

}  // namespace apono::broker::portal
