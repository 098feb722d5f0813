// The portal's browser sessions against a real aponod, on SQLite and on PostgreSQL: the test
// plays the browser (raw HTTPS, every header visible, Origin and Sec-Fetch-Site as a browser
// sets them). Sign-in and its cookie, the API with the cookie, sign-out, the idle and absolute
// limits, the sign-in throttle, cross-site requests refused without a trace, and bearer tokens
// unaffected throughout.
#include <sqlite3.h>

#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <regex>

#include "common/secrets.hpp"
#include "common/time.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/process.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;
using headers = std::vector<std::pair<std::string, std::string>>;

namespace {

// A broker on one of the stores: SQLite in its data dir, or a PostgreSQL database of `pg`.
struct setup {
  setup(const std::string& kind, std::vector<std::string> args = {}) : store(kind) {
    pg.psql("CREATE DATABASE appdb");  // the dev catalog lists the target's databases
    if (kind == "postgresql") {
      pg.psql("CREATE DATABASE apono_store");
      args.insert(args.end(), {"--store", pg.admin_url("apono_store")});
    }
    b = std::make_unique<broker_fixture>(pg, args);
  }
  // Every column of every browser_sessions row, as text.
  std::string session_rows() const {
    const std::string sql =
        "SELECT hash, username, created_at, last_seen_at, expires_at FROM "
        "browser_sessions";
    if (store == "postgresql") return pg.psql(sql, "apono_store");
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2((b->data_dir() / "apono.db").c_str(), &db, SQLITE_OPEN_READONLY,
                            nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    auto lite = std::regex_replace(sql, std::regex("username"), "user");
    REQUIRE(sqlite3_prepare_v2(db, lite.c_str(), -1, &st, nullptr) == SQLITE_OK);
    std::string out;
    while (sqlite3_step(st) == SQLITE_ROW) {
      for (int i = 0; i < 5; ++i)
        out += std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, i))) + "|";
      out += "\n";
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  }

  std::string store;
  pg_fixture pg;
  std::unique_ptr<broker_fixture> b;
};

// The browser: its cookie, and what its pages' fetch() calls send.
struct browser {
  explicit browser(broker_fixture& broker) : b(broker) {}

  // A call from the portal's own page: the custom header and the page's Origin.
  raw_answer call(const std::string& method, const std::string& target,
                  const std::string& body = {}, headers extra = {}) const {
    headers h{{"X-Apono-CSRF", "1"}, {"Origin", b.url()}, {"Sec-Fetch-Site", "same-origin"}};
    h.insert(h.end(), extra.begin(), extra.end());
    return raw(method, target, body, std::move(h));
  }
  // A call with exactly `h` besides the cookie (and a JSON type for a body).
  raw_answer raw(const std::string& method, const std::string& target, const std::string& body,
                 headers h) const {
    if (!cookie.empty()) h.emplace_back("Cookie", "theme=dark; __Host-apono_session=" + cookie);
    if (!body.empty()) h.emplace_back("Content-Type", "application/json");
    return raw_https(b, method, target, h, body);
  }
  raw_answer sign_in(const std::string& user, const std::string& password) {
    auto a = call("POST", "/api/v1/browser-session",
                  json::serialize(json::object{{"username", user}, {"password", password}}));
    static const std::regex set(
        "__Host-apono_session=([A-Za-z0-9_-]{43}); Path=/; Secure; HttpOnly; SameSite=Strict");
    std::smatch m;
    auto it = a.headers.find("set-cookie");
    if (a.status == 200 && it != a.headers.end() && std::regex_match(it->second, m, set))
      cookie = m[1];
    return a;
  }

  broker_fixture& b;
  std::string cookie;
};

json::value body_of(const raw_answer& a) {
  boost::system::error_code ec;
  auto v = json::parse(a.body, ec);
  return ec ? json::value() : v;
}

std::string error_message(const raw_answer& a) {
  auto v = body_of(a);
  if (!v.is_object() || !v.as_object().contains("error")) return "(not an error: " + a.body + ")";
  return std::string(v.at("error").at("code").as_string()) + ": " +
         std::string(v.at("error").at("message").as_string());
}

std::string header(const raw_answer& a, const std::string& name) {
  auto it = a.headers.find(name);
  return it == a.headers.end() ? std::string() : it->second;
}

const std::string read_write = R"({"integration":"pg-local","resources":["appdb"],)"
                               R"("permissions":["read_write"],"duration":"1h",)"
                               R"("justification":"portal test"})";

}  // namespace

TEST_CASE("portal sign-in: the cookie, the API with it, sign-out, and no secret kept") {
  setup s(GENERATE(as<std::string>{}, "sqlite", "postgresql"));
  INFO("store: " << s.store);
  auto& b = *s.b;
  browser alice(b);
  const apono::common::system_clock wall;
  const auto before = wall.now();
  auto in = alice.sign_in("alice", b.password("alice"));
  INFO(in.body);
  REQUIRE(in.status == 200);
  REQUIRE(alice.cookie.size() == 43);
  CHECK(header(in, "set-cookie") ==
        "__Host-apono_session=" + alice.cookie + "; Path=/; Secure; HttpOnly; SameSite=Strict");
  CHECK(header(in, "cache-control") == "no-store");
  CHECK(header(in, "x-content-type-options") == "nosniff");
  CHECK(header(in, "referrer-policy") == "no-referrer");
  auto who = body_of(in);
  CHECK(who.at("user") == "alice");
  CHECK(who.at("email") == "alice@example.com");
  CHECK(who.at("admin") == false);
  CHECK(who.at("approver") == false);
  CHECK(who.at("idle_timeout_seconds") == 1800);
  auto expires = *apono::common::parse_rfc3339(who.at("expires_at").as_string());
  CHECK(expires >= before + 12h - 1s);
  CHECK(expires <= wall.now() + 12h);

  // The cookie authenticates the API: reads need nothing more, changes the custom header.
  auto session = alice.raw("GET", "/api/v1/session", {}, {});
  REQUIRE(session.status == 200);
  CHECK(body_of(session).at("user") == "alice");
  CHECK(body_of(session).at("expires_at") == who.at("expires_at"));
  CHECK(alice.raw("GET", "/api/v1/integrations", {}, {}).status == 200);
  auto created = alice.call("POST", "/api/v1/access-requests", read_write);
  INFO(created.body);
  REQUIRE(created.status == 201);
  CHECK(body_of(created).at("requester") == "alice");
  CHECK(body_of(created).at("status") == "PENDING");
  const std::string id(body_of(created).at("id").as_string());
  CHECK(alice.raw("GET", "/api/v1/access-requests/" + id, {}, {}).status == 200);
  // Authorization is the token's: approving is an approver's, and never one's own.
  CHECK(alice.call("POST", "/api/v1/access-requests/" + id + "/approve").status == 403);
  CHECK(alice.raw("GET", "/api/v1/audit", {}, {}).status == 403);
  browser approver(b);
  REQUIRE(approver.sign_in("approver", b.password("approver")).status == 200);
  CHECK(body_of(approver.raw("GET", "/api/v1/session", {}, {})).at("approver") == true);
  auto approvable = approver.raw("GET", "/api/v1/access-requests?scope=approvable", {}, {});
  REQUIRE(approvable.status == 200);
  CHECK(approvable.body.find(id) != std::string::npos);

  // The store holds the secret's hash and nothing from which to get it back.
  auto rows = s.session_rows();
  INFO(rows);
  CHECK(rows.find(apono::common::sha256_hex(alice.cookie)) != std::string::npos);
  CHECK(rows.find(alice.cookie) == std::string::npos);
  CHECK(rows.find(approver.cookie) == std::string::npos);

  // Signing out: 204, the cookie cleared, the session gone for good.
  const auto old = alice.cookie;
  auto out = alice.call("DELETE", "/api/v1/browser-session");
  CHECK(out.status == 204);
  CHECK(header(out, "set-cookie") ==
        "__Host-apono_session=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
  auto refused = alice.raw("GET", "/api/v1/session", {}, {});
  CHECK(refused.status == 401);
  CHECK(refused.body ==
        R"({"error":{"code":"unauthenticated","message":"session expired: sign in again"}})");
  CHECK(alice.call("POST", "/api/v1/access-requests", read_write).status == 401);
  CHECK(s.session_rows().find(apono::common::sha256_hex(old)) == std::string::npos);
  // The approver's session is another one: still signed in.
  CHECK(approver.raw("GET", "/api/v1/session", {}, {}).status == 200);
  // POST /api/v1/session/revoke ends a browser session too.
  auto revoked = approver.call("POST", "/api/v1/session/revoke");
  CHECK(revoked.status == 200);
  CHECK(header(revoked, "set-cookie").find("Max-Age=0") != std::string::npos);
  CHECK(approver.raw("GET", "/api/v1/session", {}, {}).status == 401);

  // The audit trail: both sign-ins and the sign-outs, by session id, never the secret.
  auto audit = b.call("admin", "GET", "/api/v1/audit?limit=1000");
  REQUIRE(audit.status == 200);
  int logins = 0, logouts = 0;
  for (const auto& ev : audit.json.as_array()) {
    if (ev.at("action") == "auth.login" && ev.at("detail").at("client_id") == "apono-portal") {
      ++logins;
      CHECK(ev.at("detail").at("session_id").as_string().size() == 12);
    }
    logouts += ev.at("action") == "auth.logout";
  }
  CHECK(logins == 2);
  CHECK(logouts == 2);
  CHECK(audit.body.find(old) == std::string::npos);
  // Nor does aponod's log name a secret or a password.
  auto log = b.log();
  CHECK(log.find(old) == std::string::npos);
  CHECK(log.find(approver.cookie) == std::string::npos);
  CHECK(log.find(b.password("alice")) == std::string::npos);
}

TEST_CASE("portal sign-in refusals: bad password, unknown user, throttle, bad bodies") {
  setup s(GENERATE(as<std::string>{}, "sqlite", "postgresql"));
  INFO("store: " << s.store);
  auto& b = *s.b;
  browser bob(b);
  auto wrong = bob.sign_in("bob", "not-the-password");
  CHECK(wrong.status == 401);
  CHECK(error_message(wrong) == "unauthenticated: invalid username or password");
  CHECK(wrong.headers.count("set-cookie") == 0);
  auto nobody = bob.sign_in("nobody", "x");
  CHECK(nobody.status == 401);
  CHECK(error_message(nobody) == "unauthenticated: invalid username or password");
  // Five for bob in all, then not even the right password, for the rest of the window.
  for (int i = 0; i < 4; ++i) CHECK(bob.sign_in("bob", "wrong-" + std::to_string(i)).status == 401);
  auto throttled = bob.sign_in("bob", b.password("bob"));
  INFO(throttled.body);
  CHECK(throttled.status == 429);
  CHECK(error_message(throttled) ==
        "resource_exhausted: too many failed sign-ins: try again in 15 minutes");
  auto retry = std::stoi(header(throttled, "retry-after"));
  CHECK(retry > 14 * 60);
  CHECK(retry <= 15 * 60);
  CHECK(bob.cookie.empty());
  // The CLI's browser login counts the same failures: bob is refused there too.
  auto audit = b.call("admin", "GET", "/api/v1/audit?limit=1000");
  int failed = 0, throttled_events = 0;
  for (const auto& ev : audit.json.as_array()) {
    if (ev.at("action") == "auth.login_failed") {
      ++failed;
      CHECK(ev.at("detail").at("client_id") == "apono-portal");
    }
    throttled_events += ev.at("action") == "auth.login_throttled";
  }
  CHECK(failed == 6);
  CHECK(throttled_events == 1);
  // Others still sign in.
  browser alice(b);
  CHECK(alice.sign_in("alice", b.password("alice")).status == 200);

  // Bodies are read strictly, and a failure is one clear line.
  auto bad = [&](const std::string& body) {
    auto a = browser(b).call("POST", "/api/v1/browser-session", body);
    CHECK(a.status == 400);
    return error_message(a);
  };
  CHECK(bad(R"({"username":"alice"})") ==
        "invalid_argument: fields 'username' and 'password' are required");
  CHECK(bad(R"({"username":"alice","password":"x","remember":true})") ==
        "invalid_argument: unknown field 'remember'");
  CHECK(bad(R"({"username":1,"password":"x"})") ==
        "invalid_argument: field 'username' must be a string");
  CHECK(bad("username=alice&password=x").starts_with("invalid_argument: "));
  CHECK(browser(b).call("GET", "/api/v1/browser-session").status == 404);
}

TEST_CASE("cross-site requests with the cookie are refused and change nothing") {
  setup s("sqlite");
  auto& b = *s.b;
  browser alice(b);
  REQUIRE(alice.sign_in("alice", b.password("alice")).status == 200);
  auto created = alice.call("POST", "/api/v1/access-requests", read_write);
  REQUIRE(created.status == 201);
  const std::string id(body_of(created).at("id").as_string());
  const auto revoke = "/api/v1/access-requests/" + id + "/revoke";
  const std::string reason = R"({"reason":"forged"})";
  const std::string evil = "https://evil.example";

  // What another site's page can make a browser send: its own Origin, no custom header.
  const std::vector<std::pair<std::string, headers>> forged{
      {"another Origin",
       {{"X-Apono-CSRF", "1"}, {"Origin", evil}, {"Sec-Fetch-Site", "cross-site"}}},
      {"no custom header", {{"Origin", b.url()}, {"Sec-Fetch-Site", "same-origin"}}},
      {"custom header, no origin information", {{"X-Apono-CSRF", "1"}}},
      {"a sibling site", {{"X-Apono-CSRF", "1"}, {"Sec-Fetch-Site", "same-site"}}},
      {"another port", {{"X-Apono-CSRF", "1"}, {"Origin", b.url() + "1"}}},
      {"plain http", {{"X-Apono-CSRF", "1"}, {"Origin", "http" + b.url().substr(5)}}},
  };
  for (const auto& [what, h] : forged) {
    INFO(what);
    auto a = alice.raw("POST", revoke, reason, h);
    CHECK(a.status == 403);
    CHECK(a.body ==
          R"({"error":{"code":"permission_denied","message":"cross-site request refused"}})");
    auto create = alice.raw("POST", "/api/v1/access-requests", read_write, h);
    CHECK(create.status == 403);
    // Signing in or out for the browser is a state change too.
    CHECK(alice.raw("DELETE", "/api/v1/browser-session", {}, h).status == 403);
    CHECK(browser(b)
              .raw("POST", "/api/v1/browser-session",
                   R"({"username":"bob","password":")" + b.password("bob") + "\"}", h)
              .status == 403);
  }
  // Nothing happened: the request is still PENDING, alice has one request, and is signed in.
  CHECK(request_status(b, "alice", id) == "PENDING");
  auto mine = b.call("alice", "GET", "/api/v1/access-requests");
  CHECK(mine.json.as_array().size() == 1);
  CHECK(alice.raw("GET", "/api/v1/session", {}, {}).status == 200);

  // The portal's own page: by Origin, or by Sec-Fetch-Site alone (no Origin sent).
  auto own =
      alice.raw("POST", revoke, reason, {{"X-Apono-CSRF", "1"}, {"Sec-Fetch-Site", "same-origin"}});
  INFO(own.body);
  CHECK(own.status == 200);
  CHECK(body_of(own).at("status") == "REVOKED");
  CHECK(alice
            .raw("POST", "/api/v1/access-requests", read_write,
                 {{"X-Apono-CSRF", "1"}, {"Origin", b.url()}})
            .status == 201);

  // Bearer tokens need none of it, and win over a cookie sent beside them.
  apono::common::http_client cli({b.url(), b.ca_file(), b.token("bob"), 10s});
  auto bobs = cli.request("POST", "/api/v1/access-requests", read_write);
  CHECK(bobs.status == 201);
  auto both = raw_https(b, "GET", "/api/v1/session",
                        {{"Authorization", "Bearer " + b.token("bob")},
                         {"Cookie", "__Host-apono_session=" + alice.cookie}});
  CHECK(body_of(both).at("user") == "bob");
  CHECK(body_of(both).as_object().count("expires_at") == 0);
  auto forged_with_token = raw_https(b, "POST", "/api/v1/access-requests",
                                     {{"Authorization", "Bearer " + b.token("bob")},
                                      {"Cookie", "__Host-apono_session=" + alice.cookie},
                                      {"Origin", evil},
                                      {"Content-Type", "application/json"}},
                                     read_write);
  CHECK(forged_with_token.status == 201);
  CHECK(body_of(forged_with_token).at("requester") == "bob");
  // A wrong token is refused as a token, not rescued by the cookie.
  auto bad_token = raw_https(
      b, "GET", "/api/v1/session",
      {{"Authorization", "Bearer apn_nope"}, {"Cookie", "__Host-apono_session=" + alice.cookie}});
  CHECK(bad_token.status == 401);
  CHECK(error_message(bad_token) == "unauthenticated: invalid or revoked token");
}

TEST_CASE("a session ends after its idle timeout, and at its lifetime however busy") {
  // Short limits for the test: 2 s idle, 6 s in all.
  setup s(GENERATE(as<std::string>{}, "sqlite", "postgresql"),
          {"--portal-idle-timeout", "2s", "--portal-session-lifetime", "6s"});
  INFO("store: " << s.store);
  auto& b = *s.b;
  const auto expired =
      R"({"error":{"code":"unauthenticated","message":"session expired: sign in again"}})";

  // Two sessions: one left alone after sign-in, one used every 200 ms.
  browser idle(b), busy(b);
  REQUIRE(idle.sign_in("alice", b.password("alice")).status == 200);
  // The broker signed in before this instant, so from idle_since + 2 s on it is certainly idle.
  const auto idle_since = std::chrono::steady_clock::now();
  CHECK(body_of(idle.raw("GET", "/api/v1/session", {}, {})).at("idle_timeout_seconds") == 2);
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(busy.sign_in("alice", b.password("alice")).status == 200);
  auto last_ok = start;
  raw_answer last, after_idle;
  const bool ended = wait_until(
      [&] {
        last = busy.raw("GET", "/api/v1/session", {}, {});
        const auto now = std::chrono::steady_clock::now();
        if (last.status == 200) last_ok = now;
        if (after_idle.status == 0 && now >= idle_since + 2s + 50ms)
          after_idle = idle.raw("GET", "/api/v1/session", {}, {});
        std::this_thread::sleep_for(200ms);
        return last.status != 200;
      },
      20s);
  CHECK(after_idle.status == 401);
  CHECK(after_idle.body == expired);
  REQUIRE(ended);
  CHECK(last.body == expired);
  // The busy one lived well past the idle timeout, and ended at its lifetime: not before 6 s
  // from a moment before its sign-in.
  CHECK(last_ok - start > 3s);
  CHECK(std::chrono::steady_clock::now() - start >= 6s);
}
