// The `notifications` section: endpoints read into the structs (URL split for the client,
// secrets decoded, filters), the timing defaults, and every refusal as one line with its line
// number that never quotes a secret or a URL's query.
#include "broker/notify/notify_config.hpp"

#include <catch2/catch.hpp>

#include "broker/config.hpp"
#include "common/secrets.hpp"
#include "tests/support/process.hpp"

using apono::broker::config_error;
using apono::broker::parse_config;
using namespace std::chrono_literals;

namespace {

const std::string secret_a = "whsec_" + apono::common::base64(std::string(32, 'a'));
const std::string secret_b = "whsec_" + apono::common::base64(std::string(24, 'b'));

std::string error_of(const std::string& yaml) {
  try {
    (void)parse_config(yaml, "test.yaml");
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

// One webhook with `extra` lines added to it (indented as its keys).
std::string webhook(const std::string& url, const std::string& extra = {}) {
  return "notifications:\n  webhooks:\n    - name: siem\n      url: " + url + "\n      secrets: [" +
         secret_a + "]\n      events: [\"audit.*\"]\n" + extra;
}

}  // namespace

TEST_CASE("webhooks are read with their URL split, secrets decoded and filters kept") {
  apono::test::temp_dir dir;
  const auto secret_file = dir.path / "b.whsec";
  apono::common::write_private_file(secret_file, secret_b + "\n");
  auto cfg = parse_config(R"(notifications:
  timeout: 3s
  retry: {initial: 2s, max: 1m, max_age: 2h, jitter: false}
  workers: 2
  webhooks:
    - name: siem
      url: https://siem.example.com:8443/hooks/apono?token=abc
      secrets: [)" + secret_a +
                              R"(]
      secret_files: [)" + secret_file.string() +
                              R"(]
      events: ["audit.*", request.created]
    - name: local
      url: http://127.0.0.1:9000
      secrets: )" + secret_b + R"(
      events: request.*
)",
                          "test.yaml");
  const auto& n = cfg->notifications;
  CHECK(n.timeout == 3s);
  CHECK(n.initial_backoff == 2s);
  CHECK(n.max_backoff == 1min);
  CHECK(n.max_age == 2h);
  CHECK_FALSE(n.jitter);
  CHECK(n.workers == 2);
  REQUIRE(n.webhooks.size() == 2);
  const auto& siem = n.webhooks[0];
  CHECK(siem.name == "siem");
  CHECK(siem.origin == "https://siem.example.com:8443");
  CHECK(siem.target == "/hooks/apono?token=abc");
  CHECK(siem.shown_url == "https://siem.example.com:8443/...");
  CHECK(siem.keys == std::vector<std::string>{std::string(32, 'a'), std::string(24, 'b')});
  CHECK(siem.events == std::vector<std::string>{"audit.*", "request.created"});
  const auto& local = n.webhooks[1];
  CHECK(local.origin == "http://127.0.0.1:9000");
  CHECK(local.target == "/");
  CHECK(local.shown_url == "http://127.0.0.1:9000/");
  CHECK(local.events == std::vector<std::string>{"request.*"});
  CHECK(n.find_webhook("local") == &local);
  CHECK(n.find_webhook("nope") == nullptr);
}

TEST_CASE("without the section: no endpoints and the documented timing") {
  auto cfg = parse_config("", "test.yaml");
  const auto& n = cfg->notifications;
  CHECK(n.webhooks.empty());
  CHECK(n.timeout == 10s);
  CHECK(n.initial_backoff == 1s);
  CHECK(n.max_backoff == 10min);
  CHECK(n.max_age == 24h);
  CHECK(n.jitter);
}

TEST_CASE("bad endpoints are refused in one line naming the line, never the secret") {
  CHECK(error_of(webhook("ftp://example.com/x")) ==
        "test.yaml:4: webhook 'siem': url: must start with https:// (or http:// for a loopback "
        "address)");
  CHECK(error_of(webhook("not a url"))
            .starts_with("test.yaml:4: webhook 'siem': url: not an absolute URL"));
  CHECK(error_of(webhook("http://hooks.example.com/x"))
            .starts_with(
                "test.yaml:4: webhook 'siem': url: plain http:// only to a loopback address"));
  CHECK(error_of(webhook("http://hooks.example.com/x", "      allow_http: true\n")).empty());
  CHECK(error_of(webhook("https://user:pw@hooks.example.com/x")) ==
        "test.yaml:4: webhook 'siem': url: user info (user:password@) is not supported; use "
        "secrets");
  CHECK(error_of(webhook("https://hooks.example.com:0/x")) ==
        "test.yaml:4: webhook 'siem': url: port must be between 1 and 65535");

  const std::string no_secret =
      "notifications:\n  webhooks:\n    - name: siem\n      url: https://h.example/x\n"
      "      events: [request.*]\n";
  CHECK(error_of(no_secret).starts_with("test.yaml:3: webhook 'siem': a secret is required"));
  const std::string short_secret = "whsec_" + apono::common::base64(std::string(16, 's'));
  const auto e = error_of(
      "notifications:\n  webhooks:\n    - name: siem\n      url: "
      "https://h.example/x\n      secrets: [" +
      short_secret + "]\n      events: [request.*]\n");
  CHECK(e ==
        "test.yaml:5: webhook 'siem': secrets: item 1 is not a Standard Webhooks secret: whsec_ "
        "and the standard base64 of 24 to 64 random bytes (the value is not shown)");
  CHECK(e.find(short_secret.substr(6)) == std::string::npos);
  CHECK(error_of("notifications:\n  webhooks:\n    - name: siem\n      url: https://h.example/x\n"
                 "      secret_files: [/nonexistent/siem.whsec]\n      events: [request.*]\n") ==
        "test.yaml:5: webhook 'siem': secret_files: cannot read /nonexistent/siem.whsec");

  const std::string base_hook =
      "notifications:\n  webhooks:\n    - name: siem\n      url: "
      "https://h.example/x\n      secrets: [" +
      secret_a + "]\n";
  CHECK(error_of(base_hook + "      events: [request.aproved]\n")
            .starts_with("test.yaml:6: webhook 'siem': events: unknown event 'request.aproved' "
                         "(known: request.created,"));
  CHECK(error_of(base_hook) ==
        "test.yaml:3: webhook 'siem': 'events' is required, e.g. [\"request.*\"] or "
        "[\"audit.*\"]");
  CHECK(error_of(base_hook + "      events: []\n") ==
        "test.yaml:6: webhook 'siem': events: give at least one");
  CHECK(error_of(base_hook + "      events: [request.*]\n      colour: blue\n")
            .starts_with("test.yaml:7: webhook 'siem': unknown key 'colour'"));
  CHECK(error_of(base_hook + "      events: [request.*]\n      ca_file: /nonexistent/ca.pem\n") ==
        "test.yaml:7: webhook 'siem': ca_file: cannot read /nonexistent/ca.pem");
  CHECK(error_of(base_hook +
                 "      events: [request.*]\n    - name: siem\n      url: "
                 "https://h.example/y\n      secrets: [" +
                 secret_a + "]\n      events: [request.*]\n") ==
        "test.yaml:7: duplicate endpoint name 'siem'");
  CHECK(error_of("notifications:\n  webhooks:\n    - name: Siem!\n      url: https://h.example/x\n"
                 "      secrets: [" +
                 secret_a + "]\n      events: [request.*]\n") ==
        "test.yaml:3: webhook 'Siem!': name: use 1 to 64 of a-z, 0-9, - and _");
  CHECK(error_of("notifications:\n  retry: {initial: 2m, max: 1m}\n") ==
        "test.yaml:2: notifications: retry: initial: longer than max");
  CHECK(error_of("notifications:\n  timeout: 10m\n") ==
        "test.yaml:2: notifications: timeout: at most 5m (a receiver should answer in seconds)");
  CHECK(error_of("notifications:\n  webhook: []\n")
            .starts_with("test.yaml:2: notifications: unknown key 'webhook'"));
  CHECK(error_of("notifications:\n  reminders: {interval: often}\n")
            .starts_with("test.yaml:2: notifications: reminders: interval: cannot read 'often'"));
  CHECK(error_of("notifications:\n  reminders: {every: 1h}\n")
            .starts_with("test.yaml:2: notifications: reminders: unknown key 'every'"));
  CHECK(error_of("notifications:\n  expiring_soon: 15m\n")
            .starts_with("test.yaml:2: notifications: expiring_soon:"));
  CHECK(error_of("notifications:\n  retention: 10m\n") ==
        "test.yaml:2: notifications: retention: at least 1h (admins look at recent deliveries)");
}

TEST_CASE("reminders, expiring-soon notices and the retention: off, on, and their defaults") {
  auto none = parse_config("users: [{name: alice}]\n", "test.yaml");
  CHECK(none->notifications.reminder_interval == 0ms);
  CHECK(none->notifications.expiring_soon_before == 0ms);
  CHECK(none->notifications.retention == std::chrono::hours{24 * 30});
  auto on = parse_config(
      "users: [{name: alice}]\nnotifications:\n  reminders: {interval: 4h}\n"
      "  expiring_soon: {before: 15m}\n  retention: 7d\n",
      "test.yaml");
  CHECK(on->notifications.reminder_interval == 4h);
  CHECK(on->notifications.expiring_soon_before == 15min);
  CHECK(on->notifications.retention == std::chrono::hours{24 * 7});
  auto off = parse_config(
      "users: [{name: alice}]\nnotifications:\n  reminders: {interval: 0}\n"
      "  expiring_soon: {before: 0s}\n",
      "test.yaml");
  CHECK(off->notifications.reminder_interval == 0ms);
  CHECK(off->notifications.expiring_soon_before == 0ms);
}

TEST_CASE("email and Teams endpoints are read, with the portal's URL") {
  apono::test::temp_dir dir;
  const auto password_file = dir.path / "smtp.password";
  apono::common::write_private_file(password_file, "pa55word\n");
  auto cfg = parse_config(R"(notifications:
  portal_url: https://apono.example.com/jit/
  email:
    host: smtp.example.com
    username: apono
    password_file: )" + password_file.string() +
                              R"(
    from: "Apono <apono@example.com>"
  teams:
    - name: approvals
      url: https://prod-01.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=SIG
      events: [request.pending_approval]
)",
                          "test.yaml");
  const auto& n = cfg->notifications;
  CHECK(n.portal_url == "https://apono.example.com/jit");
  CHECK(n.request_link("AR-00012") == "https://apono.example.com/jit/requests/AR-00012");
  REQUIRE(n.email);
  CHECK(n.email->name == "email");
  CHECK(n.email->host == "smtp.example.com");
  CHECK(n.email->port == 587);
  CHECK(n.email->tls == apono::broker::notify::smtp_tls::starttls);
  CHECK(n.email->password == "pa55word");
  CHECK(n.email->from_address == "apono@example.com");
  CHECK(n.email->events == std::vector<std::string>{"request.*"});
  REQUIRE(n.teams.size() == 1);
  CHECK(n.teams[0].origin == "https://prod-01.westeurope.logic.azure.com:443");
  CHECK(n.teams[0].target.ends_with("&sig=SIG"));
  CHECK(n.teams[0].shown_url == "https://prod-01.westeurope.logic.azure.com:443/...");
  CHECK(n.find_teams("approvals") == &n.teams[0]);
  auto implicit = parse_config(
      "notifications:\n  email: {host: smtp.example.com, tls: implicit, from: a@example.com}\n",
      "test.yaml");
  CHECK(implicit->notifications.email->port == 465);
  CHECK(parse_config("", "test.yaml")->notifications.request_link("AR-1").empty());
}

TEST_CASE("bad email and Teams settings are refused in one line, never quoting a secret") {
  const std::string email = "notifications:\n  email:\n    host: smtp.example.com\n";
  CHECK(error_of(email) == "test.yaml:3: notifications: email: 'from' is required");
  CHECK(error_of(email + "    from: not-an-address\n")
            .starts_with("test.yaml:4: notifications: email: from: not an address"));
  CHECK(error_of(email + "    from: a@example.com\n    tls: ssl\n") ==
        "test.yaml:5: notifications: email: tls: use starttls, implicit or none");
  CHECK(error_of(email + "    from: a@example.com\n    tls: none\n")
            .starts_with("test.yaml:5: notifications: email: tls: none only to a loopback server"));
  CHECK(
      error_of(email + "    from: a@example.com\n    tls: none\n    allow_plain: true\n").empty());
  CHECK(error_of(email + "    from: a@example.com\n    username: apono\n") ==
        "test.yaml:3: notifications: email: username given without a password: give password or "
        "password_file");
  CHECK(error_of(email + "    from: a@example.com\n    username: apono\n    password_file: "
                         "/nonexistent/smtp.password\n") ==
        "test.yaml:6: notifications: email: password_file: cannot read "
        "/nonexistent/smtp.password");
  const auto both = error_of(email +
                             "    from: a@example.com\n    username: apono\n    password: "
                             "hunter2\n    password_file: /etc/hostname\n");
  CHECK(both == "test.yaml:7: notifications: email: give password or password_file, not both");
  CHECK(error_of(email + "    from: a@example.com\n    events: [audit.*]\n") ==
        "test.yaml:5: notifications: email: events: audit.* has no recipient by email; send the "
        "audit stream to a webhook");
  CHECK(error_of(email + "    from: a@example.com\n    events: [request.aproved]\n")
            .starts_with("test.yaml:5: notifications: email: events: unknown event "
                         "'request.aproved'"));
  CHECK(error_of("notifications:\n  teams:\n    - name: t\n      url: http://teams.example.com/x\n"
                 "      events: [request.*]\n")
            .starts_with("test.yaml:4: teams 't': url: plain http:// only to a loopback address"));
  const auto bad_url = error_of(
      "notifications:\n  teams:\n    - name: t\n      url: \"https://h.example/x?sig=TOPSECRET "
      "x\"\n      events: [request.*]\n");
  CHECK(bad_url.starts_with("test.yaml:4: teams 't': url: not an absolute URL"));
  CHECK(bad_url.find("TOPSECRET") == std::string::npos);
  CHECK(error_of("notifications:\n  teams:\n    - name: t\n      url: https://h.example/x\n") ==
        "test.yaml:3: teams 't': 'events' is required, e.g. [\"request.*\"] or [\"audit.*\"]");
  CHECK(error_of("notifications:\n  teams:\n    - name: email\n      url: https://h.example/x\n"
                 "      events: [request.*]\n  email: {host: h.example, from: a@example.com}\n")
            .starts_with("test.yaml:6: notifications: email: another endpoint is named 'email'"));
  CHECK(error_of("notifications:\n  portal_url: apono.example.com\n")
            .starts_with("test.yaml:2: notifications: portal_url: not the portal's address"));
}
