// Reads and checks `notifications.slack`: the API's URL and CA, the two secrets (from the file,
// a file each, or the environment), the user mapping and the event filter. Every problem fails
// the start or the SIGHUP reload with one line naming the key, never the secret's value.
#include "broker/slack/slack_config.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "broker/config_reader.hpp"
#include "broker/notify/events.hpp"

namespace apono::broker::slack {
namespace {

const std::string ctx = "notifications: slack";

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

std::string trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
  return s;
}

// A secret from `key`, `key_file` or the environment variable `env`, in that order; exactly one
// of the first two may be given. Empty when none is.
std::string read_secret(const config_reader& r, const YAML::Node& n, const std::string& key,
                        const char* env) {
  const bool inline_given = given(n[key]);
  const bool file_given = given(n[key + "_file"]);
  if (inline_given && file_given)
    r.fail(n[key + "_file"], ctx, "give " + key + " or " + key + "_file, not both");
  if (inline_given) return trimmed(r.scalar(n[key], ctx, key));
  if (file_given) {
    const auto path = r.scalar(n[key + "_file"], ctx, key + "_file");
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.is_open()) r.fail(n[key + "_file"], ctx, key + "_file: cannot read " + path);
    text = trimmed(std::move(text));
    if (text.empty()) r.fail(n[key + "_file"], ctx, key + "_file: " + path + " is empty");
    return text;
  }
  if (const char* v = std::getenv(env)) return trimmed(v);
  return {};
}

// Where a secret came from, for the line of an error about it: `key`, `key_file`, or the
// section (the environment).
YAML::Node secret_node(const YAML::Node& n, const std::string& key) {
  if (given(n[key])) return n[key];
  if (given(n[key + "_file"])) return n[key + "_file"];
  return n;
}

bool printable_without_spaces(const std::string& s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c > ' ' && c < 0x7f; });  // no spaces, controls, UTF-8
}

std::string read_api_url(const config_reader& r, const YAML::Node& n) {
  auto text = r.optional_string(n, ctx, "api_base_url");
  if (!text) return "https://slack.com/api";
  auto parsed = boost::urls::parse_absolute_uri(*text);
  if (!parsed || (parsed->scheme() != "https" && parsed->scheme() != "http") ||
      parsed->host_address().empty() || parsed->has_query() || parsed->has_fragment() ||
      parsed->has_userinfo())
    r.fail(n["api_base_url"], ctx,
           "api_base_url: not a URL such as https://slack.com/api (http(s), a host, a path, no "
           "query)");
  if (parsed->scheme() == "http" && !is_loopback(std::string(parsed->host_address())))
    r.fail(n["api_base_url"], ctx,
           "api_base_url: plain http:// only to a loopback address (the bot token travels in "
           "every call)");
  std::string url = *text;
  while (url.ends_with('/')) url.pop_back();
  return url;
}

bool is_slack_user_id(const std::string& s) {
  return s.size() >= 3 && s.size() <= 32 && (s[0] == 'U' || s[0] == 'W') &&
         std::all_of(s.begin() + 1, s.end(), [](char c) {
           return std::isupper(static_cast<unsigned char>(c)) ||
                  std::isdigit(static_cast<unsigned char>(c));
         });
}

}  // namespace

std::optional<slack_config> read_slack(const config_reader& r, const YAML::Node& n) {
  if (!given(n)) return std::nullopt;
  r.expect_map(n, ctx);
  r.check_keys(n, ctx,
               {"name", "api_base_url", "ca_file", "bot_token", "bot_token_file", "signing_secret",
                "signing_secret_file", "users", "events"});
  slack_config c;
  if (auto name = r.optional_string(n, ctx, "name")) {
    const bool ok = !name->empty() && name->size() <= 64 &&
                    std::all_of(name->begin(), name->end(), [](char ch) {
                      return std::islower(static_cast<unsigned char>(ch)) ||
                             std::isdigit(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_';
                    });
    if (!ok) r.fail(n["name"], ctx, "name: use 1 to 64 of a-z, 0-9, - and _");
    c.name = *name;
  }
  c.api_base_url = read_api_url(r, n);
  if (auto ca = r.optional_string(n, ctx, "ca_file")) {
    if (c.api_base_url.starts_with("http://"))
      r.fail(n["ca_file"], ctx, "ca_file: only for an https:// api_base_url");
    std::ifstream f(*ca, std::ios::binary);
    std::string pem((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (!f.is_open()) r.fail(n["ca_file"], ctx, "ca_file: cannot read " + *ca);
    if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
      r.fail(n["ca_file"], ctx, "ca_file: " + *ca + " holds no PEM certificate");
    c.ca_file = std::filesystem::absolute(*ca);
  }

  c.bot_token = read_secret(r, n, "bot_token", "APONO_SLACK_BOT_TOKEN");
  if (c.bot_token.empty())
    r.fail(n, ctx,
           "a bot token is required: give bot_token_file (or bot_token, or the environment "
           "variable APONO_SLACK_BOT_TOKEN)");
  if (!c.bot_token.starts_with("xoxb-") || c.bot_token.size() < 16 ||
      !printable_without_spaces(c.bot_token))
    r.fail(secret_node(n, "bot_token"), ctx,
           "bot_token: not a Slack bot token (xoxb-..., from the app's OAuth & Permissions "
           "page); the value is not shown");
  c.signing_secret = read_secret(r, n, "signing_secret", "APONO_SLACK_SIGNING_SECRET");
  if (c.signing_secret.empty())
    r.fail(n, ctx,
           "a signing secret is required: give signing_secret_file (or signing_secret, or the "
           "environment variable APONO_SLACK_SIGNING_SECRET)");
  if (c.signing_secret.size() < 16 || !printable_without_spaces(c.signing_secret))
    r.fail(secret_node(n, "signing_secret"), ctx,
           "signing_secret: not a Slack signing secret (the app's Basic Information page "
           "shows it); the value is not shown");

  if (given(n["users"])) {
    const auto& users = n["users"];
    if (!users.IsMap())
      r.fail(users, ctx, "users: expected a mapping of Slack user ids to apono users");
    r.check_keys(users, ctx + ": users", {}, true);
    for (const auto& kv : users) {
      const auto id = kv.first.as<std::string>();
      if (!is_slack_user_id(id))
        r.fail(kv.first, ctx,
               "users: '" + id +
                   "' is not a Slack user id (U or W and capitals and digits, "
                   "as in U012AB3CD)");
      auto user = r.scalar(kv.second, ctx, "users: " + id);
      if (user.empty()) r.fail(kv.second, ctx, "users: " + id + ": name an apono user");
      c.users[id] = std::move(user);
    }
  }

  if (given(n["events"])) {
    for (auto& e : r.string_list(n["events"], ctx, "events", true)) {
      if (!notify::is_event_pattern(e.value))
        r.fail(e.mark, ctx,
               "events: unknown event '" + e.value +
                   "' (request.created, request.pending_approval, request.reminder, "
                   "request.approved, request.rejected, request.active, request.expiring_soon, "
                   "request.expired, request.revoked, request.failed, or request.*)");
      if (e.value.starts_with("audit.") || e.value == "*")
        r.fail(e.mark, ctx,
               "events: " + e.value +
                   " has no one to message in Slack; send the audit stream to a webhook");
      c.events.push_back(std::move(e.value));
    }
    if (c.events.empty()) r.fail(n["events"], ctx, "events: give at least one");
  } else {
    c.events = {"request.*"};
  }
  return c;
}

}  // namespace apono::broker::slack
