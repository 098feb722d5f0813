// Must show 4 of the notifications issue: a real SMTP server on loopback (Debian's aiosmtpd)
// receives the approver's mail for a pending request and the requester's mails for Approved,
// Active and Expired from a real aponod; each parses as MIME with Python's email package (a
// multipart/alternative with a text/plain and a text/html part, no defects, lines within RFC
// 5322's limit), names the request, the exact commands and the portal link, escapes HTML, and
// holds no secret. Also: a 451 to RCPT TO is retried and the mail arrives once, a 550 ends
// that recipient's delivery at once without holding back anyone else, a redelivery carries the
// same Message-ID, and STARTTLS with AUTH (PLAIN and LOGIN) and implicit TLS work with the
// password never shown.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <map>

#include "broker/notify/email/smtp_client.hpp"
#include "common/secrets.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/smtp_receiver.hpp"
#include "tests/support/webhook_receiver.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace email = apono::broker::notify::email;

namespace {

const std::string portal = "https://apono.example.test";

std::string id_of(const api_answer& a) {
  return std::string(a.json.at("id").as_string());
}

// The mail of event `type` about request `id` to `address`, or null.
const received_mail* find(const std::vector<received_mail>& got, const std::string& address,
                          const std::string& id, const std::string& type) {
  for (const auto& m : got)
    if (m.to == std::vector<std::string>{address} && m.header("X-Apono-Request") == id &&
        m.header("X-Apono-Event") == type)
      return &m;
  return nullptr;
}

// What every mail must be: MIME as Python reads it, both parts, short ASCII lines, its headers.
void check_mime(const received_mail& m) {
  INFO(m.raw);
  CHECK(m.parsed.at("content_type") == "multipart/alternative");
  CHECK(m.parsed.at("defects").as_array().empty());
  const auto& parts = m.parsed.at("parts").as_array();
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].at("content_type") == "text/plain");
  CHECK(parts[1].at("content_type") == "text/html");
  for (const auto& p : parts) {
    CHECK(p.at("charset") == "utf-8");
    CHECK(p.at("encoding") == "quoted-printable");
    CHECK(p.at("defects").as_array().empty());
  }
  CHECK(m.parsed.at("max_line").to_number<std::int64_t>() <= 78);
  CHECK(m.parsed.at("ascii") == true);
  CHECK(m.parsed.at("date_parses") == true);
  CHECK(m.header("From") == "Apono <apono@example.test>");
  CHECK(m.header("Message-ID").starts_with("<msg_"));
  CHECK(m.header("Message-ID").ends_with("@example.test>"));
  CHECK(m.header("Auto-Submitted") == "auto-generated");
  CHECK(m.header("Subject").find(m.header("X-Apono-Request")) != std::string::npos);
  CHECK(m.mail_from == "apono@example.test");
}

bool contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

// Every string under a key named `password`, however deep.
void collect_passwords(const json::value& v, std::vector<std::string>& out) {
  if (v.is_array())
    for (const auto& x : v.as_array()) collect_passwords(x, out);
  if (!v.is_object()) return;
  for (const auto& [k, x] : v.as_object()) {
    if (k == "password" && x.is_string() && !x.as_string().empty()) out.emplace_back(x.as_string());
    collect_passwords(x, out);
  }
}

std::string email_section(int port, const std::string& extra = {}) {
  return "  email:\n    host: 127.0.0.1\n    port: " + std::to_string(port) +
         "\n    from: \"Apono <apono@example.test>\"\n" + extra;
}

}  // namespace

TEST_CASE("approvers and requesters get their mails: MIME, commands, portal link, no secret") {
  smtp_receiver smtp(json::object{
      {"rcpt",
       json::object{
           {"alice@example.com", json::array{"451 4.3.0 try again later", "250 OK"}},
           {"bob@example.com", json::array{"550 5.1.1 <bob@example.com>: no such mailbox"}}}}});
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  temp_dir dir("email-test");
  const auto extra = dir.path / "extra.yaml";
  apono::common::write_private_file(extra,
                                    "notifications:\n"
                                    "  timeout: 5s\n"
                                    "  retry: {initial: 1s, max: 2s, jitter: false}\n"
                                    "  portal_url: " +
                                        portal + "/\n" +
                                        email_section(smtp.port(), "    tls: none\n"));
  broker_fixture b(pg, {"--dev-extra", extra.string()});
  log_on_failure show_log([&] { return b.log(); });

  // Manual: pending (to the approver), approved, active (to alice); the justification has what
  // HTML must escape and what is not ASCII.
  const std::string justification = "INC-42 <script>alert(1)</script> & café ☕";
  auto created = create_request(b, "alice", "appdb", "read_write", "1h", justification);
  REQUIRE(created.status == 201);
  const auto manual = id_of(created);
  smtp.wait_for("the approver's mail for " + manual, [&](const auto& got) {
    return find(got, "approver@example.com", manual, "request.pending_approval") != nullptr;
  });
  REQUIRE(b.call("approver", "POST", "/api/v1/access-requests/" + manual + "/approve").status ==
          200);
  // Automatic and short: approved, active and expired on its own.
  auto short_one = create_request(b, "alice", "appdb", "read_only", "3s");
  REQUIRE(short_one.status == 201);
  const auto automatic = id_of(short_one);
  // Bob's, rejected: his server refuses him for good.
  auto bobs = create_request(b, "bob", "appdb", "admin", "1h");
  REQUIRE(bobs.status == 201);
  const auto rejected = id_of(bobs);
  REQUIRE(b.call("approver", "POST", "/api/v1/access-requests/" + rejected + "/reject",
                 R"({"reason":"not during the freeze"})")
              .status == 200);

  const std::vector<std::tuple<std::string, std::string, std::string>> expected{
      {"approver@example.com", manual, "request.pending_approval"},
      {"alice@example.com", manual, "request.approved"},
      {"alice@example.com", manual, "request.active"},
      {"alice@example.com", automatic, "request.approved"},
      {"alice@example.com", automatic, "request.active"},
      {"alice@example.com", automatic, "request.expired"},
      {"approver@example.com", rejected, "request.pending_approval"}};
  auto got = smtp.wait_for(
      "every expected mail",
      [&](const auto& seen) {
        for (const auto& [to, id, type] : expected)
          if (!find(seen, to, id, type)) return false;
        return true;
      },
      60s);
  for (const auto& m : got) check_mime(m);
  // Nobody is mailed about what they did themselves, nor twice about one event.
  std::map<std::string, int> per_id;
  for (const auto& m : got) ++per_id[m.header("Message-ID")];
  for (const auto& [id, n] : per_id) CHECK(n == 1);
  CHECK(!find(got, "alice@example.com", manual, "request.created"));

  const auto* pending = find(got, "approver@example.com", manual, "request.pending_approval");
  const auto link = portal + "/requests/" + manual;
  {
    const auto text = pending->part("text/plain");
    const auto html = pending->part("text/html");
    INFO(text << "\n" << html);
    CHECK(contains(pending->header("Subject"), manual));
    CHECK(contains(pending->header("Subject"), "waits for your approval"));
    CHECK(contains(text, "apono approve " + manual));
    CHECK(contains(text, "apono reject " + manual + " --reason REASON"));
    CHECK(contains(text, link));
    CHECK(contains(text, justification));  // the plain part as typed, UTF-8 decoded
    CHECK(contains(html, "apono approve " + manual));
    CHECK(contains(html, "href=\"" + link + "\""));
    CHECK(contains(html, "INC-42 &lt;script&gt;alert(1)&lt;/script&gt; &amp; café ☕"));
    CHECK(!contains(html, "<script>"));
  }
  const auto* active = find(got, "alice@example.com", manual, "request.active");
  {
    const auto text = active->part("text/plain");
    INFO(text);
    CHECK(contains(active->header("Subject"), "active until"));
    CHECK(contains(text, "apono access connect " + manual));
    CHECK(contains(text, "apono access-details " + manual));
    CHECK(contains(text, "Ends at:"));
    CHECK(contains(text, link));
    CHECK(contains(active->part("text/html"), "apono access connect " + manual));
  }
  const auto* expired = find(got, "alice@example.com", automatic, "request.expired");
  CHECK(contains(expired->header("Subject"), automatic + " has expired"));
  CHECK(contains(expired->part("text/plain"), portal + "/requests/" + automatic));

  // 451 then 250: alice's first mail took two attempts and arrived once; her later mails about
  // the same request waited for it, so each request's mails came in order.
  std::vector<std::string> alice_answers;
  for (const auto& e : smtp.events())
    if (e.if_contains("event") && e.at("event") == "rcpt" && e.at("to") == "alice@example.com")
      alice_answers.emplace_back(e.at("answer").as_string());
  REQUIRE(alice_answers.size() >= 2);
  CHECK(alice_answers[0].starts_with("451"));
  CHECK(alice_answers[1].starts_with("250"));
  // The server took the last mail; the broker records it right after.
  CHECK(wait_until(
      [&] {
        auto p = b.call("admin", "GET", "/api/v1/notifications/deliveries?status=pending");
        return p.status == 200 && p.json.as_array().empty();
      },
      30s));
  auto alices = b.call("admin", "GET", "/api/v1/notifications/deliveries?endpoint=email:alice");
  REQUIRE(alices.status == 200);
  CHECK(alices.json.as_array().size() == 5);
  int retried = 0;
  std::int64_t active_id = 0;
  for (const auto& d : alices.json.as_array()) {
    INFO(json::serialize(d));
    CHECK(d.at("status") == "delivered");
    retried += d.at("attempts") == 2;
    CHECK((d.at("attempts") == 1 || d.at("attempts") == 2));
    if (d.at("request_id") == manual.c_str() && d.at("type") == "request.active")
      active_id = d.at("id").as_int64();
  }
  CHECK(retried == 1);
  const std::map<std::string, std::vector<std::string>> alice_order{
      {manual, {"request.approved", "request.active"}},
      {automatic, {"request.approved", "request.active", "request.expired"}}};
  for (const auto& [id, types] : alice_order) {
    std::vector<std::string> order;
    for (const auto& m : got)
      if (m.header("X-Apono-Request") == id && m.to[0] == "alice@example.com")
        order.push_back(m.header("X-Apono-Event"));
    CHECK(order == types);
  }

  // 550 to bob: dead at the first attempt with the server's reply, no retry loop.
  auto bob = b.call("admin", "GET", "/api/v1/notifications/deliveries?endpoint=email:bob");
  REQUIRE(bob.status == 200);
  REQUIRE(bob.json.as_array().size() == 1);
  const auto& dead = bob.json.as_array()[0];
  CHECK(dead.at("type") == "request.rejected");
  CHECK(dead.at("status") == "dead");
  CHECK(dead.at("attempts") == 1);
  CHECK(contains(std::string(dead.at("last_error").as_string()), "550"));
  // `email` lists every recipient's deliveries.
  auto all = b.call("admin", "GET", "/api/v1/notifications/deliveries?endpoint=email&limit=500");
  REQUIRE(all.status == 200);
  CHECK(all.json.as_array().size() == expected.size() + 1);

  // A redelivery is the same mail: the same Message-ID, so mail systems see a retry.
  REQUIRE(active_id != 0);
  REQUIRE(b.call("admin", "POST",
                 "/api/v1/notifications/deliveries/" + std::to_string(active_id) + "/redeliver")
              .status == 200);
  got = smtp.wait_for("the redelivered mail", [&](const auto& seen) {
    int n = 0;
    for (const auto& m : seen) n += m.header("Message-ID") == active->header("Message-ID");
    return n == 2;
  });

  // No secret in any mail: no user's token or password, not the grant's password.
  auto details = b.call("alice", "GET", "/api/v1/access-sessions/" + manual + "/access-details");
  REQUIRE(details.status == 200);
  std::vector<std::string> secrets;
  for (const char* user : {"admin", "approver", "alice", "bob"}) {
    secrets.push_back(b.token(user));
    secrets.push_back(b.password(user));
  }
  const auto before = secrets.size();
  collect_passwords(details.json, secrets);
  REQUIRE(secrets.size() > before);  // the grant's password, to look for
  for (const auto& m : got)
    for (const auto& s : secrets) {
      CHECK(!contains(m.raw, s));
      CHECK(!contains(m.part("text/plain"), s));
      CHECK(!contains(m.part("text/html"), s));
    }
}

TEST_CASE("STARTTLS with AUTH through aponod: the test mail arrives, the password is never shown") {
  temp_dir certs("smtp-tls");
  make_loopback_certificate(certs.path);
  const auto password = apono::common::random_password(24);
  smtp_receiver smtp(
      json::object{{"tls_cert", (certs.path / "cert.pem").string()},
                   {"tls_key", (certs.path / "key.pem").string()},
                   {"auth", json::object{{"user", "apono"}, {"password", password}}}});
  pg_fixture pg;
  temp_dir dir("email-tls-test");
  const auto password_file = dir.path / "smtp.password";
  apono::common::write_private_file(password_file, password + "\n");
  const auto extra = dir.path / "extra.yaml";
  apono::common::write_private_file(
      extra,
      "notifications:\n  timeout: 5s\n" +
          email_section(smtp.port(),
                        "    tls: starttls\n    ca_file: " + (certs.path / "cert.pem").string() +
                            "\n    username: apono\n    password_file: " + password_file.string() +
                            "\n"));
  broker_fixture b(pg, {"--dev-extra", extra.string()});
  log_on_failure show_log([&] { return b.log(); });

  auto endpoints = b.call("admin", "GET", "/api/v1/notifications/endpoints");
  REQUIRE(endpoints.status == 200);
  INFO(endpoints.body);
  CHECK(contains(endpoints.body,
                 "\"url\":\"smtp://127.0.0.1:" + std::to_string(smtp.port()) + " (STARTTLS)\""));
  CHECK(contains(endpoints.body, "\"channel\":\"email\""));
  auto test = b.call("admin", "POST", "/api/v1/notifications/endpoints/email/test");
  REQUIRE(test.status == 202);
  auto got = smtp.wait_for("the test mail", [](const auto& seen) { return !seen.empty(); });
  REQUIRE(got.size() == 1);
  CHECK(got[0].to == std::vector<std::string>{"admin@example.com"});
  CHECK(got[0].tls);
  CHECK(got[0].auth == "apono");
  CHECK(got[0].header("X-Apono-Event") == "notification.test");
  CHECK(contains(got[0].part("text/plain"), "test of the notification endpoint email"));

  // The password is in no mail, no API answer and no log line.
  CHECK(!contains(got[0].raw, password));
  CHECK(!contains(endpoints.body, password));
  auto deliveries = b.call("admin", "GET", "/api/v1/notifications/deliveries?endpoint=email");
  CHECK(!contains(deliveries.body, password));
  CHECK(!contains(b.log(), password));
  CHECK(!contains(b.log(), apono::common::base64(std::string(1, '\0') + "apono" +
                                                 std::string(1, '\0') + password)));
}

TEST_CASE("the SMTP client: AUTH LOGIN, implicit TLS, a refused login and a missing STARTTLS") {
  temp_dir certs("smtp-client");
  make_loopback_certificate(certs.path);
  const auto cert = (certs.path / "cert.pem").string();
  const auto key = (certs.path / "key.pem").string();
  const std::string password = "s3cret-" + apono::common::random_password(12);
  const std::string message = "Subject: hello\r\n\r\n.a line that starts with a dot\r\n";
  auto opts = [&](int port, apono::broker::notify::smtp_tls tls) {
    email::smtp_options o;
    o.host = "127.0.0.1";
    o.port = port;
    o.tls = tls;
    o.ca_file = cert;
    o.username = "apono";
    o.password = password;
    o.timeout = 10s;
    return o;
  };
  using apono::broker::notify::smtp_tls;
  using outcome = email::smtp_result::outcome;

  SECTION("AUTH LOGIN after STARTTLS, and dot-stuffing") {
    smtp_receiver smtp(
        json::object{{"tls_cert", cert},
                     {"tls_key", key},
                     {"exclude_auth", json::array{"PLAIN"}},
                     {"auth", json::object{{"user", "apono"}, {"password", password}}}});
    auto r = email::smtp_send(opts(smtp.port(), smtp_tls::starttls), "a@example.test",
                              "b@example.test", message);
    INFO(r.error << "\n" << smtp.describe());
    CHECK(r.result == outcome::sent);
    auto got = smtp.wait_for("the mail", [](const auto& seen) { return !seen.empty(); });
    CHECK(got[0].auth == "apono");
    CHECK(got[0].tls);
    CHECK(contains(got[0].raw, "\r\n.a line that starts with a dot\r\n"));
    bool login = false;
    for (const auto& e : smtp.events())
      login = login || (e.if_contains("mechanism") && e.at("mechanism") == "LOGIN");
    CHECK(login);
  }
  SECTION("implicit TLS") {
    smtp_receiver smtp(json::object{{"tls_cert", cert}, {"tls_key", key}, {"implicit", true}});
    auto o = opts(smtp.port(), smtp_tls::implicit);
    o.username.clear();
    o.password.clear();
    auto r = email::smtp_send(o, "a@example.test", "b@example.test", message);
    INFO(r.error << "\n" << smtp.describe());
    CHECK(r.result == outcome::sent);
    CHECK(smtp.wait_for("the mail", [](const auto& seen) { return !seen.empty(); })[0].tls);
  }
  SECTION("a refused login is retried later and does not quote the password") {
    smtp_receiver smtp(
        json::object{{"tls_cert", cert},
                     {"tls_key", key},
                     {"auth", json::object{{"user", "apono"}, {"password", "other"}}}});
    auto r = email::smtp_send(opts(smtp.port(), smtp_tls::starttls), "a@example.test",
                              "b@example.test", message);
    INFO(r.error);
    CHECK(r.result == outcome::temporary);
    CHECK(r.code == 535);
    CHECK(contains(r.error, "refused the login"));
    CHECK(!contains(r.error, password));
    CHECK(smtp.mails().empty());
  }
  SECTION("tls: starttls will not talk to a server that does not offer it") {
    smtp_receiver smtp;
    auto r = email::smtp_send(opts(smtp.port(), smtp_tls::starttls), "a@example.test",
                              "b@example.test", message);
    INFO(r.error);
    CHECK(r.result == outcome::temporary);
    CHECK(contains(r.error, "STARTTLS"));
    CHECK(smtp.mails().empty());
  }
  SECTION("a certificate that the CA file does not vouch for is refused") {
    temp_dir other("smtp-other-ca");
    make_loopback_certificate(other.path);
    smtp_receiver smtp(json::object{{"tls_cert", cert}, {"tls_key", key}, {"implicit", true}});
    auto o = opts(smtp.port(), smtp_tls::implicit);
    o.ca_file = other.path / "cert.pem";
    auto r = email::smtp_send(o, "a@example.test", "b@example.test", message);
    INFO(r.error);
    CHECK(r.result == outcome::temporary);
    CHECK(contains(r.error, "TLS verification failed"));
    CHECK(smtp.mails().empty());
  }
}
