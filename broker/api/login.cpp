// Browser login and API tokens. Every request value that reaches a page is HTML-escaped, every
// one that reaches the redirect is percent-encoded, and nothing secret (password, code,
// verifier, token) is logged, or stored other than as a hash.
#include "broker/api/login.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/params_view.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <charconv>
#include <map>

#include "broker/api/json_body.hpp"
#include "broker/html.hpp"
#include "common/error.hpp"
#include "common/secrets.hpp"

namespace apono::broker::api {

namespace json = boost::json;
namespace urls = boost::urls;
using common::api_error;
using common::errc;

namespace {

constexpr auto code_lifetime = std::chrono::seconds{120};
constexpr std::size_t max_username = 256;
// HMAC hashes a longer password first, so this bounds work only; it is generous on purpose.
constexpr std::size_t max_password = 1024;
constexpr std::size_t max_redirect_uri = 512;
constexpr std::size_t max_state = 512;
constexpr std::string_view invalid_credentials = "invalid username or password";
constexpr std::string_view invalid_code = "invalid or expired authorization code";
// Failed sign-ins: after 5 for one user, or 20 from one address (a shared NAT has several
// people), further attempts are refused until 15 minutes after the first failure.
constexpr std::chrono::milliseconds failure_window = std::chrono::minutes{15};
constexpr int max_failures_per_user = 5;
constexpr int max_failures_per_address = 20;

// The address part of `HOST:PORT` (`::1:5555` for IPv6, as the server writes it).
std::string source_address(const std::string& remote) {
  auto colon = remote.rfind(':');
  return colon == std::string::npos ? remote : remote.substr(0, colon);
}

using fields = std::map<std::string, std::string, std::less<>>;

// Decodes application/x-www-form-urlencoded text (a query string has the same syntax). RFC
// 6749 §3.1 forbids repeating a parameter; refusing it keeps two readers from disagreeing.
fields parse_form(std::string_view text) {
  fields out;
  if (text.empty()) return out;
  if (!urls::parse_query(text)) throw api_error(errc::invalid_argument, "malformed form data");
  for (auto p : urls::params_view(text, urls::encoding_opts(true))) {
    if (p.key.size() > 64 || p.value.size() > 4096)
      throw api_error(errc::invalid_argument, "a form field is too long");
    if (!out.emplace(p.key, p.value).second)
      throw api_error(errc::invalid_argument, "parameter '" + p.key + "' is repeated");
  }
  return out;
}

std::string field(const fields& f, std::string_view key) {
  auto it = f.find(key);
  return it == f.end() ? std::string() : it->second;
}

// RFC 7636 §4.1: code verifiers and (here) challenges are 43 to 128 unreserved characters.
bool pkce_string(std::string_view s) {
  if (s.size() < 43 || s.size() > 128) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_' &&
        c != '~')
      return false;
  return true;
}

// What the CLI asked for, validated: safe to put in a page and to redirect to.
struct oauth_request {
  std::string redirect_uri;  // http://127.0.0.1:PORT/... or http://localhost:PORT/...
  std::string origin;        // http://HOST:PORT of redirect_uri
  std::string challenge;
  std::string state;  // may be empty
};

// The loopback origin of `uri` (RFC 8252 §7.3), or empty when it is anything else. Only a
// program on the user's own machine can listen there, so a code cannot be sent elsewhere.
std::string loopback_origin(std::string_view uri) {
  if (uri.size() > max_redirect_uri) return {};
  auto u = urls::parse_absolute_uri(uri);
  if (!u || u->scheme() != "http" || u->has_userinfo() || u->has_fragment() || !u->has_port())
    return {};
  auto host = u->encoded_host();
  bool loopback = (u->host_type() == urls::host_type::ipv4 && host == "127.0.0.1") ||
                  (u->host_type() == urls::host_type::name && host == "localhost");
  auto port_text = u->port();
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (!loopback || port_text.empty() || ec != std::errc{} ||
      end != port_text.data() + port_text.size() || port < 1 || port > 65535 ||
      u->encoded_path().empty() || u->encoded_path().front() != '/')
    return {};
  return "http://" + std::string(host.data(), host.size()) + ":" + std::to_string(port);
}

// Checks the authorization request's parameters (RFC 6749 §4.1.1, RFC 7636 §4.3); throws
// invalid_argument naming the first problem.
oauth_request check_oauth(const fields& f) {
  auto bad = [](std::string message) { return api_error(errc::invalid_argument, message); };
  if (field(f, "client_id") != login::client_id)
    throw bad("unknown client_id: this page signs in the apono CLI (apono-cli) only");
  oauth_request o;
  o.redirect_uri = field(f, "redirect_uri");
  o.origin = loopback_origin(o.redirect_uri);
  if (o.origin.empty())
    throw bad(
        "redirect_uri must be http://127.0.0.1:PORT/... or http://localhost:PORT/..., where "
        "the apono CLI listens on this machine");
  if (field(f, "response_type") != "code") throw bad("response_type must be code");
  if (field(f, "code_challenge_method") != "S256") throw bad("code_challenge_method must be S256");
  o.challenge = field(f, "code_challenge");
  if (!pkce_string(o.challenge))
    throw bad("code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~");
  o.state = field(f, "state");
  if (o.state.size() > max_state)
    throw bad("state is longer than " + std::to_string(max_state) + " characters");
  for (char c : o.state)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      throw bad("state must not contain control characters");
  return o;
}

std::string page(std::string_view title, std::string_view content) {
  return R"(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>)" +
         html_escape(title) +
         R"(</title>
<style>
body { font-family: system-ui, sans-serif; background: #f4f5f7; margin: 0; }
main { max-width: 22rem; margin: 4rem auto; background: #fff; padding: 2rem;
       border-radius: 8px; box-shadow: 0 1px 4px rgba(0,0,0,.15); }
h1 { font-size: 1.3rem; margin-top: 0; }
label { display: block; margin-top: 1rem; font-size: .9rem; }
input { width: 100%; box-sizing: border-box; padding: .5rem; margin-top: .25rem; font-size: 1rem; }
button { margin-top: 1.5rem; width: 100%; padding: .6rem; font-size: 1rem; }
.error { color: #b00020; }
.note { color: #555; font-size: .85rem; }
</style>
</head>
<body>
<main>
)" + std::string(content) +
         R"(</main>
</body>
</html>
)";
}

std::string form_page(const oauth_request& o, std::string_view username, std::string_view error) {
  std::string c = "<h1>Sign in to apono</h1>\n";
  if (!error.empty()) c += "<p class=\"error\" role=\"alert\">" + html_escape(error) + "</p>\n";
  c += "<form method=\"post\" action=\"/login\">\n";
  c += "<label for=\"username\">Username</label>\n";
  c += "<input id=\"username\" name=\"username\" autocomplete=\"username\" required value=\"" +
       html_escape(username) + "\"" + (username.empty() ? " autofocus" : "") + ">\n";
  c += "<label for=\"password\">Password</label>\n";
  c += "<input id=\"password\" name=\"password\" type=\"password\" "
       "autocomplete=\"current-password\" required" +
       std::string(username.empty() ? "" : " autofocus") + ">\n";
  auto hidden = [&c](std::string_view name, std::string_view value) {
    c += "<input type=\"hidden\" name=\"" + std::string(name) + "\" value=\"" + html_escape(value) +
         "\">\n";
  };
  hidden("response_type", "code");
  hidden("client_id", login::client_id);
  hidden("redirect_uri", o.redirect_uri);
  hidden("code_challenge", o.challenge);
  hidden("code_challenge_method", "S256");
  if (!o.state.empty()) hidden("state", o.state);
  c += "<button type=\"submit\">Sign in</button>\n</form>\n";
  c += "<p class=\"note\">Signing in returns you to the apono CLI at " + html_escape(o.origin) +
       ".</p>\n";
  return page("Sign in to apono", c);
}

// An HTML answer with the headers every login page carries. `redirect_origin` is allowed as
// a form target as well: browsers apply form-action to the redirect that follows the POST.
http::response html(int status, std::string body, std::string_view redirect_origin) {
  std::string csp = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'";
  if (!redirect_origin.empty()) csp += " " + std::string(redirect_origin);
  csp += "; frame-ancestors 'none'";
  http::response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = "text/html; charset=utf-8";
  r.headers = {{"Cache-Control", "no-store"},
               {"X-Frame-Options", "DENY"},
               {"Content-Security-Policy", std::move(csp)},
               {"X-Content-Type-Options", "nosniff"},
               // The page's URL carries the OAuth parameters; no need to hand them on.
               {"Referrer-Policy", "no-referrer"}};
  return r;
}

http::response error_page(const api_error& e) {
  std::string c = "<h1>Cannot sign in</h1>\n<p class=\"error\">" + html_escape(e.what()) +
                  "</p>\n<p class=\"note\">Start again with <code>apono login</code>.</p>\n";
  return html(common::http_status(e.code()), page("Cannot sign in to apono", c), {});
}

audit_event event(common::time_point now, std::string actor, std::string action,
                  const json::object& detail) {
  audit_event ev;
  ev.at = now;
  ev.actor = std::move(actor);
  ev.action = std::move(action);
  ev.detail = json::serialize(detail);
  return ev;
}

// Enough of a token's hash to tell tokens apart in the audit trail, and nothing to use.
std::string token_id(const std::string& token_hash) {
  return token_hash.substr(0, 12);
}

// True when `password` is `username`'s. An unknown name costs the same PBKDF2 work as a known
// one, so the answer time does not tell which names exist.
bool password_ok(const config& cfg, std::string_view username, std::string_view password) {
  if (username.size() > max_username || password.size() > max_password) return false;
  const auto* u = cfg.find_user(username);
  if (u && !u->password_hash.empty()) return common::verify_password(password, u->password_hash);
  for (const auto& other : cfg.users) {
    if (other.password_hash.empty()) continue;
    (void)common::verify_password(password, other.password_hash);
    break;
  }
  return false;
}

bool is_form(std::string_view content_type) {
  auto media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  constexpr std::string_view form = "application/x-www-form-urlencoded";
  return media.size() == form.size() &&
         std::equal(media.begin(), media.end(), form.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// The token request's fields from a form (RFC 6749 §4.1.3) or, like the rest of the API, a
// JSON object of strings with no unknown fields.
fields token_fields(const http::request& req) {
  if (is_form(req.content_type)) return parse_form(req.body);
  json::object o;
  try {
    o = parse_json_object(req.body);
  } catch (const api_error& e) {
    throw api_error(errc::invalid_argument,
                    "the body must be a JSON object or application/x-www-form-urlencoded (" +
                        std::string(e.what()) + ")");
  }
  fields out;
  for (const auto& kv : o) {
    std::string key(kv.key());
    if (key != "grant_type" && key != "code" && key != "code_verifier" && key != "redirect_uri" &&
        key != "client_id")
      throw api_error(errc::invalid_argument, "unknown field '" + key.substr(0, 64) + "'");
    if (!kv.value().is_string() || kv.value().get_string().size() > 4096)
      throw api_error(errc::invalid_argument, "field '" + key + "' must be a string");
    out[key] = std::string(kv.value().get_string());
  }
  return out;
}

}  // namespace

login::login(config_holder& cfg, store& st, const common::clock& clock)
    : config_(cfg), store_(st), clock_(clock) {}

bool login::handles(std::string_view path) {
  return path == "/login" || path == "/oauth/token";
}

http::response login::handle(const http::request& req, std::string_view path) const {
  if (path == "/login" && req.method == "GET") return login_page(req);
  if (path == "/login" && req.method == "POST") return login_submit(req);
  if (path == "/oauth/token" && req.method == "POST") return token(req);
  throw api_error(errc::not_found, "no such endpoint: " + req.method + " " + std::string(path));
}

http::response login::login_page(const http::request& req) const {
  try {
    auto target = urls::parse_origin_form(req.target);
    if (!target) throw api_error(errc::invalid_argument, "malformed request target");
    auto query = target->encoded_query();
    auto o = check_oauth(parse_form(std::string_view(query.data(), query.size())));
    return html(200, form_page(o, "", ""), o.origin);
  } catch (const api_error& e) {
    return error_page(e);
  }
}

http::response login::login_submit(const http::request& req) const {
  oauth_request o;
  fields f;
  try {
    f = parse_form(req.body);
    o = check_oauth(f);
  } catch (const api_error& e) {
    return error_page(e);
  }
  auto username = field(f, "username");
  auto checked = check_password(username, field(f, "password"), req.remote, client_id);
  if (checked.outcome == password_check::throttled) {
    auto res = html(
        429, form_page(o, username.substr(0, max_username), throttled_message(checked.retry_after)),
        o.origin);
    res.headers.emplace_back("Retry-After", retry_after_seconds(checked.retry_after));
    return res;
  }
  if (checked.outcome == password_check::wrong)
    return html(401, form_page(o, username.substr(0, max_username), invalid_credentials), o.origin);

  const auto now = clock_.now();
  const auto code = common::base64url(common::random_bytes(32));
  auth_code c;
  c.code_hash = common::sha256_hex(code);
  c.user = username;
  c.challenge = o.challenge;
  c.redirect_uri = o.redirect_uri;
  c.expires_at = now + code_lifetime;
  store_.transact([&](store_tx& tx) {
    tx.insert_auth_code(c, now);
    signed_in(tx, username, now, client_id);
  });
  spdlog::info("login: user '{}' signed in with a password", username);

  // RFC 6749 §3.1.2: a query already in the redirect URI is kept.
  std::string location = o.redirect_uri;
  location += o.redirect_uri.find('?') == std::string::npos ? '?' : '&';
  location += "code=" + code;
  if (!o.state.empty()) location += "&state=" + urls::encode(o.state, urls::unreserved_chars);
  auto res =
      html(302,
           page("Signed in to apono", "<h1>Signed in</h1>\n<p><a href=\"" + html_escape(location) +
                                          "\">Return to the apono CLI</a></p>\n"),
           o.origin);
  res.headers.emplace_back("Location", std::move(location));
  return res;
}

login::password_result login::check_password(const std::string& username, std::string_view password,
                                             const std::string& remote,
                                             std::string_view client) const {
  auto cfg = config_.get();
  const auto address = source_address(remote);
  // Refused before the password is even looked at, so guessing stops for the window.
  if (auto wait = throttled(username, address, clock_.now(), client))
    return {password_check::throttled, *wait};
  if (!password_ok(*cfg, username, password)) {
    record_failure(username, address, client);
    return {password_check::wrong, {}};
  }
  return {password_check::ok, {}};
}

std::string login::throttled_message(std::chrono::milliseconds wait) {
  auto minutes = std::chrono::ceil<std::chrono::minutes>(wait).count();
  return "too many failed sign-ins: try again in " + std::to_string(minutes) +
         (minutes == 1 ? " minute" : " minutes");
}

std::string login::retry_after_seconds(std::chrono::milliseconds wait) {
  return std::to_string(std::chrono::ceil<std::chrono::seconds>(wait).count());
}

void login::signed_in(store_tx& tx, const std::string& username, common::time_point now,
                      std::string_view client,
                      const std::vector<std::pair<std::string, std::string>>& detail) {
  tx.clear_login_failures("user:" + username);
  json::object d{{"client_id", client}, {"method", "password"}};
  for (const auto& [key, value] : detail) d[key] = value;
  tx.append_audit(event(now, username, "auth.login", d));
}

std::optional<std::chrono::milliseconds> login::throttled(const std::string& username,
                                                          const std::string& address,
                                                          common::time_point now,
                                                          std::string_view client) const {
  login_window by_user, by_address;
  store_.read([&](store_tx& tx) {
    by_user = tx.login_failures("user:" + username.substr(0, max_username), now, failure_window);
    by_address = tx.login_failures("addr:" + address, now, failure_window);
  });
  std::optional<common::time_point> until;
  if (by_user.failures >= max_failures_per_user) until = by_user.ends;
  if (by_address.failures >= max_failures_per_address)
    until = until ? std::max(*until, by_address.ends) : by_address.ends;
  if (!until) return std::nullopt;
  store_.transact([&](store_tx& tx) {
    tx.append_audit(event(now, username.substr(0, 64), "auth.login_throttled",
                          {{"client_id", client},
                           {"user_failures", by_user.failures},
                           {"address_failures", by_address.failures}}));
  });
  spdlog::warn(
      "login: refused a sign-in attempt for a while after repeated failures ({} for the "
      "user, {} from {})",
      by_user.failures, by_address.failures, address);
  return std::chrono::duration_cast<std::chrono::milliseconds>(*until - now);
}

void login::record_failure(const std::string& username, const std::string& address,
                           std::string_view client) const {
  const auto now = clock_.now();
  auto cfg = config_.get();
  const bool known = cfg->find_user(username) != nullptr;
  store_.transact([&](store_tx& tx) {
    // Counted in the store, so every replica behind the load balancer sees the same count.
    tx.add_login_failure("user:" + username.substr(0, max_username), now, failure_window);
    tx.add_login_failure("addr:" + address, now, failure_window);
    tx.append_audit(event(now, username.substr(0, 64), "auth.login_failed",
                          {{"client_id", client}, {"known_user", known}}));
  });
  // An unknown name is not repeated in the log: it may be a password typed in the wrong box.
  if (known)
    spdlog::info("login: wrong password for user '{}'", username);
  else
    spdlog::info("login: attempt with an unknown user name");
}

http::response login::token(const http::request& req) const {
  auto f = token_fields(req);
  if (field(f, "grant_type") != "authorization_code")
    throw api_error(errc::invalid_argument, "grant_type must be authorization_code");
  if (field(f, "client_id") != client_id)
    throw api_error(errc::invalid_argument, "client_id must be apono-cli");
  const auto code = field(f, "code");
  const auto verifier = field(f, "code_verifier");
  const auto redirect_uri = field(f, "redirect_uri");
  if (code.empty() || redirect_uri.empty())
    throw api_error(errc::invalid_argument, "code and redirect_uri are required");
  if (!pkce_string(verifier))
    throw api_error(errc::invalid_argument,
                    "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~");

  const auto now = clock_.now();
  const auto cfg = config_.get();
  std::string token, user;
  store_.transact([&](store_tx& tx) {
    // Taking the code marks it used whatever follows: a code gets exactly one try.
    auto taken = tx.take_auth_code(common::sha256_hex(code), now);
    if (!taken || taken->redirect_uri != redirect_uri ||
        !common::constant_time_equal(common::base64url(common::sha256(verifier)),
                                     taken->challenge) ||
        !cfg->find_user(taken->user))
      return;  // commit: the code stays used
    user = taken->user;
    token = common::random_token();
    auto hash = common::sha256_hex(token);
    tx.insert_token(hash, user, now, "apono login", now + cfg->server.token_ttl);
    tx.append_audit(event(now, user, "auth.token_issued",
                          {{"client_id", client_id}, {"token_id", token_id(hash)}}));
  });
  if (token.empty()) {
    spdlog::info("login: refused a token request with an invalid or expired code");
    throw api_error(errc::invalid_argument, std::string(invalid_code));
  }
  spdlog::info("login: issued an API token to user '{}'", user);
  http::response res;
  res.body = json::serialize(
      json::object{{"access_token", token}, {"token_type", "Bearer"}, {"user", user}});
  return res;
}

std::optional<caller> login::token_caller(const std::string& token_hash) const {
  const auto now = clock_.now();
  auto token = store_.find_token(token_hash, now);
  if (!token) return std::nullopt;
  if (token->expires_at <= now) throw api_error(errc::unauthenticated, "session expired");
  auto cfg = config_.get();
  const auto* u = cfg->find_user(token->user);
  if (!u) return std::nullopt;  // removed from the config: its tokens go with it
  return caller{u->name, u->admin};
}

http::response login::revoke(const caller& who, const std::string& token_hash) const {
  auto cfg = config_.get();
  for (const auto& u : cfg->users)
    for (const auto& h : u.token_hashes)
      if (common::constant_time_equal(h, token_hash))
        throw api_error(errc::conflict,
                        "this token is set in the broker's config and cannot be revoked here");
  const auto now = clock_.now();
  store_.transact([&](store_tx& tx) {
    // False only if a concurrent call revoked it first; either way it is revoked now.
    if (tx.revoke_token(token_hash, now))
      tx.append_audit(
          event(now, who.user, "auth.token_revoked", {{"token_id", token_id(token_hash)}}));
  });
  spdlog::info("login: user '{}' revoked an API token", who.user);
  http::response res;
  res.body = json::serialize(json::object{{"revoked", true}});
  return res;
}

}  // namespace apono::broker::api
