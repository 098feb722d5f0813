// Reads and checks the `notifications` section: every URL, secret, CA and event name is checked
// at load, so a typo fails the start or the SIGHUP reload, never a delivery.
#include "broker/notify/notify_config.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <set>

#include "broker/config_reader.hpp"
#include "broker/notify/events.hpp"
#include "broker/notify/webhook/signing.hpp"

namespace apono::broker::notify {
namespace {

namespace fs = std::filesystem;

bool is_endpoint_name(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

std::string secret_message(const std::string& where) {
  return where +
         " is not a Standard Webhooks secret: whsec_ and the standard base64 of 24 to 64 random "
         "bytes (the value is not shown)";
}

// A URL split for the HTTP client.
struct split_url {
  std::string origin;     // scheme://host:port
  std::string target;     // path and query
  std::string shown_url;  // origin and `/...` when there is a path or query
};

// The URL split for the client, or a failure naming what is wrong with it (never quoting it:
// a webhook URL can carry a token).
split_url read_url(const config_reader& r, const YAML::Node& n, const std::string& ctx,
                   bool allow_http) {
  auto text = r.required_string(n, ctx, "url");
  auto parsed = boost::urls::parse_absolute_uri(text.value);
  if (!parsed)
    r.fail(text.mark, ctx, "url: not an absolute URL such as https://hooks.example.com/apono");
  const auto& u = *parsed;
  const std::string scheme(u.scheme());
  if (scheme != "https" && scheme != "http")
    r.fail(text.mark, ctx, "url: must start with https:// (or http:// for a loopback address)");
  if (u.has_userinfo())
    r.fail(text.mark, ctx, "url: user info (user:password@) is not supported; use secrets");
  if (u.has_fragment()) r.fail(text.mark, ctx, "url: a #fragment is not sent; remove it");
  const std::string host(u.host_address());
  if (host.empty()) r.fail(text.mark, ctx, "url: names no host");
  if (u.has_port() && (u.port_number() == 0 || u.port().size() > 5))
    r.fail(text.mark, ctx, "url: port must be between 1 and 65535");
  if (scheme == "http" && !allow_http && !is_loopback(host))
    r.fail(text.mark, ctx,
           "url: plain http:// only to a loopback address; use https://, or set allow_http: true "
           "to send notifications unencrypted");
  const bool v6 = u.host_type() == boost::urls::host_type::ipv6;
  split_url out;
  out.origin = scheme + "://" + (v6 ? "[" + host + "]" : host) +
               (u.has_port() ? ":" + std::string(u.port()) : "");
  std::string path(u.encoded_path());
  if (path.empty()) path = "/";
  out.target = path + (u.has_query() ? "?" + std::string(u.encoded_query()) : "");
  // A path can carry a token as well as a query (chat services put theirs in either).
  out.shown_url = out.origin + (out.target == "/" ? "/" : "/...");
  return out;
}

void read_secrets(const config_reader& r, const YAML::Node& n, const std::string& ctx,
                  webhook_config& w) {
  std::size_t i = 0;
  for (const auto& s : r.string_list(n["secrets"], ctx, "secrets", true)) {
    auto key = parse_secret(s.value);
    if (!key) r.fail(s.mark, ctx, secret_message("secrets: item " + std::to_string(i + 1)));
    w.keys.push_back(std::move(*key));
    ++i;
  }
  for (const auto& f : r.string_list(n["secret_files"], ctx, "secret_files", true)) {
    std::ifstream in(f.value, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.is_open()) r.fail(f.mark, ctx, "secret_files: cannot read " + f.value);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    auto key = parse_secret(text);
    if (!key) r.fail(f.mark, ctx, secret_message("secret_files: " + f.value));
    w.keys.push_back(std::move(*key));
  }
  if (w.keys.empty())
    r.fail(n, ctx,
           "a secret is required: give secrets: [whsec_...] or secret_files: [FILE] (two during "
           "a rotation)");
}

std::vector<std::string> read_events(const config_reader& r, const YAML::Node& n,
                                     const std::string& ctx) {
  std::vector<std::string> out;
  if (!given(n["events"]))
    r.fail(n, ctx, "'events' is required, e.g. [\"request.*\"] or [\"audit.*\"]");
  for (auto& e : r.string_list(n["events"], ctx, "events", true)) {
    if (!is_event_pattern(e.value))
      r.fail(e.mark, ctx,
             "events: unknown event '" + e.value +
                 "' (known: request.created, request.pending_approval, request.reminder, "
                 "request.approved, "
                 "request.rejected, request.active, request.expiring_soon, request.expired, "
                 "request.revoked, request.failed, notification.test, audit.<action>; or a "
                 "prefix such as request.* or audit.*)");
    out.push_back(std::move(e.value));
  }
  if (out.empty()) r.fail(n["events"], ctx, "events: give at least one");
  return out;
}

std::filesystem::path read_ca_file(const config_reader& r, const YAML::Node& n,
                                   const std::string& ctx) {
  auto ca = r.optional_string(n, ctx, "ca_file");
  if (!ca) return {};
  std::ifstream f(*ca, std::ios::binary);
  std::string pem((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (!f.is_open()) r.fail(n["ca_file"], ctx, "ca_file: cannot read " + *ca);
  if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
    r.fail(n["ca_file"], ctx, "ca_file: " + *ca + " holds no PEM certificate");
  return fs::absolute(*ca);
}

std::string endpoint_context(const YAML::Node& n, const std::string& kind, std::size_t index) {
  const YAML::Node name_node = n["name"];
  return name_node.IsDefined() && name_node.IsScalar() && !name_node.Scalar().empty()
             ? kind + " '" + name_node.Scalar() + "'"
             : kind + " #" + std::to_string(index + 1);
}

std::string read_endpoint_name(const config_reader& r, const YAML::Node& n, const std::string& ctx,
                               std::set<std::string>& names) {
  auto name = r.required_string(n, ctx, "name");
  if (!is_endpoint_name(name.value))
    r.fail(name.mark, ctx, "name: use 1 to 64 of a-z, 0-9, - and _");
  if (!names.insert(name.value).second)
    r.fail(name.mark, "", "duplicate endpoint name '" + name.value + "'");
  return name.value;
}

// What every endpoint that POSTs has: its URL, its filter and its CA (webhooks, Teams).
template <class Endpoint>
void read_http_endpoint(const config_reader& r, const YAML::Node& n, const std::string& ctx,
                        Endpoint& e) {
  auto url = read_url(r, n, ctx, r.optional_bool(n, ctx, "allow_http").value_or(false));
  e.origin = std::move(url.origin);
  e.target = std::move(url.target);
  e.shown_url = std::move(url.shown_url);
  e.events = read_events(r, n, ctx);
  if (given(n["ca_file"]) && e.origin.starts_with("http://"))
    r.fail(n["ca_file"], ctx, "ca_file: only for an https:// url");
  e.ca_file = read_ca_file(r, n, ctx);
}

webhook_config read_webhook(const config_reader& r, const YAML::Node& n, std::size_t index,
                            std::set<std::string>& names) {
  r.expect_map(n, "webhook #" + std::to_string(index + 1));
  const std::string ctx = endpoint_context(n, "webhook", index);
  r.check_keys(n, ctx,
               {"name", "url", "secrets", "secret_files", "events", "ca_file", "allow_http"});
  webhook_config w;
  w.name = read_endpoint_name(r, n, ctx, names);
  read_http_endpoint(r, n, ctx, w);
  read_secrets(r, n, ctx, w);
  return w;
}

teams_config read_teams(const config_reader& r, const YAML::Node& n, std::size_t index,
                        std::set<std::string>& names) {
  r.expect_map(n, "teams #" + std::to_string(index + 1));
  const std::string ctx = endpoint_context(n, "teams", index);
  r.check_keys(n, ctx, {"name", "url", "events", "ca_file", "allow_http"});
  teams_config t;
  t.name = read_endpoint_name(r, n, ctx, names);
  read_http_endpoint(r, n, ctx, t);
  return t;
}

// `Name <addr@host>` or `addr@host`: the address, or empty when it is not one.
std::string address_of(const std::string& from) {
  std::string addr = from;
  if (auto lt = from.rfind('<'); lt != std::string::npos) {
    if (from.back() != '>') return {};
    addr = from.substr(lt + 1, from.size() - lt - 2);
  }
  const auto at = addr.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == addr.size()) return {};
  if (addr.find_first_of(" <>\r\n\t\"(),;:") != std::string::npos) return {};
  return addr;
}

email_config read_email(const config_reader& r, const YAML::Node& n,
                        const std::set<std::string>& names) {
  const std::string ctx = "notifications: email";
  r.expect_map(n, ctx);
  r.check_keys(n, ctx,
               {"host", "port", "tls", "username", "password", "password_file", "from", "ca_file",
                "events", "allow_plain", "helo"});
  email_config e;
  if (names.contains(e.name))
    r.fail(n, ctx, "another endpoint is named 'email': the email endpoint has that name");
  e.host = r.required_string(n, ctx, "host").value;
  const auto tls = r.optional_string(n, ctx, "tls").value_or("starttls");
  if (tls == "starttls") {
    e.tls = smtp_tls::starttls;
  } else if (tls == "implicit") {
    e.tls = smtp_tls::implicit;
    e.port = 465;
  } else if (tls == "none") {
    e.tls = smtp_tls::none;
    e.port = 25;
  } else {
    r.fail(n["tls"], ctx, "tls: use starttls, implicit or none");
  }
  e.port = r.optional_int(n, ctx, "port", 1, 65535).value_or(e.port);
  const bool allow_plain = r.optional_bool(n, ctx, "allow_plain").value_or(false);
  if (e.tls == smtp_tls::none && !allow_plain && !is_loopback(e.host))
    r.fail(n["tls"], ctx,
           "tls: none only to a loopback server; use starttls or implicit, or set "
           "allow_plain: true to send mail (and the SMTP password) unencrypted");
  if (auto u = r.optional_string(n, ctx, "username")) e.username = *u;
  const bool has_password = given(n["password"]);
  if (has_password) e.password = r.scalar(n["password"], ctx, "password");
  if (auto f = r.optional_string(n, ctx, "password_file")) {
    if (has_password) r.fail(n["password_file"], ctx, "give password or password_file, not both");
    std::ifstream in(*f, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.is_open()) r.fail(n["password_file"], ctx, "password_file: cannot read " + *f);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text.empty()) r.fail(n["password_file"], ctx, "password_file: " + *f + " is empty");
    e.password = std::move(text);
  }
  if (!e.username.empty() && e.password.empty())
    r.fail(n, ctx, "username given without a password: give password or password_file");
  if (e.username.empty() && !e.password.empty())
    r.fail(n, ctx, "a password without a username: give username too");
  auto from = r.required_string(n, ctx, "from");
  e.from = from.value;
  e.from_address = address_of(e.from);
  if (e.from_address.empty())
    r.fail(from.mark, ctx,
           "from: not an address such as apono@example.com or \"Apono <apono@example.com>\"");
  if (auto h = r.optional_string(n, ctx, "helo")) e.helo = *h;
  if (given(n["ca_file"]) && e.tls == smtp_tls::none)
    r.fail(n["ca_file"], ctx, "ca_file: only with tls: starttls or implicit");
  e.ca_file = read_ca_file(r, n, ctx);
  e.events = given(n["events"]) ? read_events(r, n, ctx) : std::vector<std::string>{"request.*"};
  for (const auto& ev : e.events)
    if (ev.starts_with("audit."))
      r.fail(n["events"], ctx,
             "events: " + ev + " has no recipient by email; send the audit stream to a webhook");
  return e;
}

std::string read_portal_url(const config_reader& r, const YAML::Node& n) {
  const std::string ctx = "notifications";
  auto text = r.optional_string(n, ctx, "portal_url");
  if (!text) return {};
  auto parsed = boost::urls::parse_absolute_uri(*text);
  if (!parsed || (parsed->scheme() != "https" && parsed->scheme() != "http") ||
      parsed->host_address().empty() || parsed->has_query() || parsed->has_fragment() ||
      parsed->has_userinfo())
    r.fail(n["portal_url"], ctx,
           "portal_url: not the portal's address such as https://apono.example.com (http(s), a "
           "host, an optional path, no query)");
  std::string url = *text;
  while (url.ends_with('/')) url.pop_back();
  return url;
}

void read_retry(const config_reader& r, const YAML::Node& n, notifications_config& c) {
  const std::string ctx = "notifications: retry";
  if (!given(n)) return;
  r.expect_map(n, ctx);
  r.check_keys(n, ctx, {"initial", "max", "max_age", "jitter"});
  if (given(n["initial"])) c.initial_backoff = r.duration(n["initial"], ctx, "initial");
  if (given(n["max"])) c.max_backoff = r.duration(n["max"], ctx, "max");
  if (given(n["max_age"])) c.max_age = r.duration(n["max_age"], ctx, "max_age");
  c.jitter = r.optional_bool(n, ctx, "jitter").value_or(c.jitter);
  if (c.initial_backoff > c.max_backoff)
    r.fail(given(n["initial"]) ? n["initial"] : n, ctx, "initial: longer than max");
}

// A duration that may also be `0` (or `0s`): off.
std::chrono::milliseconds duration_or_off(const config_reader& r, const YAML::Node& n,
                                          const std::string& ctx, const std::string& key) {
  if (n.IsScalar() && (n.Scalar() == "0" || n.Scalar() == "0s")) return {};
  return r.duration(n, ctx, key);
}

// `reminders: {interval: 4h}` and `expiring_soon: {before: 15m}`.
std::chrono::milliseconds read_notice(const config_reader& r, const YAML::Node& n,
                                      const std::string& section, const std::string& key) {
  const std::string ctx = "notifications: " + section;
  if (!given(n)) return {};
  r.expect_map(n, ctx);
  r.check_keys(n, ctx, {key});
  if (!given(n[key])) return {};
  return duration_or_off(r, n[key], ctx, key);
}

}  // namespace

const webhook_config* notifications_config::find_webhook(std::string_view name) const {
  auto it = std::find_if(webhooks.begin(), webhooks.end(),
                         [&](const webhook_config& w) { return w.name == name; });
  return it == webhooks.end() ? nullptr : &*it;
}

const teams_config* notifications_config::find_teams(std::string_view name) const {
  auto it = std::find_if(teams.begin(), teams.end(),
                         [&](const teams_config& t) { return t.name == name; });
  return it == teams.end() ? nullptr : &*it;
}

std::string notifications_config::request_link(std::string_view id) const {
  if (portal_url.empty()) return {};
  return portal_url + "/requests/" + std::string(id);
}

notifications_config read_notifications(const config_reader& r, const YAML::Node& n) {
  notifications_config c;
  const std::string ctx = "notifications";
  if (!given(n)) return c;
  r.expect_map(n, ctx);
  r.check_keys(n, ctx,
               {"webhooks", "email", "teams", "slack", "portal_url", "timeout", "retry", "workers",
                "reminders", "expiring_soon", "retention"});
  if (given(n["timeout"])) {
    c.timeout = r.duration(n["timeout"], ctx, "timeout");
    if (c.timeout > std::chrono::minutes{5})
      r.fail(n["timeout"], ctx, "timeout: at most 5m (a receiver should answer in seconds)");
  }
  read_retry(r, n["retry"], c);
  c.workers = r.optional_int(n, ctx, "workers", 1, 64).value_or(c.workers);
  c.reminder_interval = read_notice(r, n["reminders"], "reminders", "interval");
  c.expiring_soon_before = read_notice(r, n["expiring_soon"], "expiring_soon", "before");
  if (given(n["retention"])) {
    c.retention = r.duration(n["retention"], ctx, "retention");
    if (c.retention < std::chrono::hours{1})
      r.fail(n["retention"], ctx, "retention: at least 1h (admins look at recent deliveries)");
  }
  std::set<std::string> names;
  r.for_each_item(n["webhooks"], "notifications: webhooks",
                  [&](const YAML::Node& item, std::size_t i) {
                    c.webhooks.push_back(read_webhook(r, item, i, names));
                  });
  r.for_each_item(n["teams"], "notifications: teams", [&](const YAML::Node& item, std::size_t i) {
    c.teams.push_back(read_teams(r, item, i, names));
  });
  if (given(n["email"])) c.email = read_email(r, n["email"], names);
  if (given(n["slack"])) {
    c.slack = slack::read_slack(r, n["slack"]);
    if (c.slack && (names.contains(c.slack->name) || (c.email && c.email->name == c.slack->name)))
      r.fail(n["slack"], "notifications: slack",
             "another endpoint is named '" + c.slack->name +
                 "': give the Slack app a name of its own (name:)");
  }
  c.portal_url = read_portal_url(r, n);
  return c;
}

}  // namespace apono::broker::notify
