// Browser sessions with a manual clock and a real SQLite store: the cookie as the browser gets
// and sends it, the same-origin rule, and a session's end by idleness, by its lifetime, by
// signing out, by signing in again and by its user's removal, without waiting for any of it.
#include "broker/portal/sessions.hpp"

#include <catch2/catch.hpp>

#include "broker/store/sqlite_store.hpp"
#include "common/error.hpp"
#include "common/secrets.hpp"
#include "tests/support/process.hpp"

using namespace apono;
using namespace std::chrono_literals;
namespace portal = apono::broker::portal;

namespace {

broker::http::request with_headers(std::vector<std::pair<std::string, std::string>> headers,
                                   std::string method = "POST") {
  broker::http::request r;
  r.method = std::move(method);
  r.target = "/api/v1/access-requests";
  r.headers = std::move(headers);
  return r;
}

const char* const users_yaml = R"(
portal: {idle_timeout: 10m, session_lifetime: 1h}
users:
  - {name: alice, email: alice@example.com}
  - {name: carol, admin: true}
)";

struct harness {
  test::temp_dir dir{"portal-sessions-test"};
  common::manual_clock clock{common::from_unix_ms(1'800'000'000'000)};
  broker::config_holder holder{broker::parse_config(users_yaml, "aponod.yaml")};
  broker::sqlite_store st{dir.path / "apono.db"};
  portal::sessions sessions{holder, st, clock};
  std::vector<std::string> started_ids;

  std::pair<portal::session, std::string> start(const std::string& user,
                                                std::string_view replaced = {}) {
    return sessions.start(user, replaced, [&](broker::store_tx&, const std::string& id) {
      started_ids.push_back(id);
    });
  }
  bool live(const std::string& secret, bool activity = true) {
    try {
      (void)sessions.resolve(secret, activity);
      return true;
    } catch (const common::api_error& e) {
      CHECK(e.code() == common::errc::unauthenticated);
      CHECK(std::string(e.what()) == "session expired: sign in again");
      return false;
    }
  }
};

}  // namespace

TEST_CASE("the cookie: __Host-, Secure, HttpOnly, SameSite=Strict, read back from Cookie") {
  CHECK(portal::set_cookie("abc") ==
        "__Host-apono_session=abc; Path=/; Secure; HttpOnly; SameSite=Strict");
  CHECK(portal::clear_cookie() ==
        "__Host-apono_session=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
  CHECK(portal::session_cookie(with_headers({{"cookie", "__Host-apono_session=s1"}})) == "s1");
  CHECK(portal::session_cookie(with_headers(
            {{"cookie",
              "theme=dark; x__Host-apono_session=no;  __Host-apono_session=s2 ; z=1"}})) == "s2");
  CHECK(portal::session_cookie(
            with_headers({{"cookie", "a=b"}, {"cookie", "__Host-apono_session=\"s3\""}})) == "s3");
  CHECK(portal::session_cookie(with_headers({{"cookie", "__host-apono_session=lower"}})).empty());
  CHECK(portal::session_cookie(with_headers({{"x-cookie", "__Host-apono_session=s"}})).empty());
  CHECK(portal::session_cookie(with_headers({})).empty());
}

TEST_CASE("same origin: the custom header, and Origin matching Host or Sec-Fetch-Site") {
  using h = std::vector<std::pair<std::string, std::string>>;
  auto ok = [](h headers) { return portal::is_same_origin(with_headers(std::move(headers))); };
  const std::pair<std::string, std::string> csrf{"x-apono-csrf", "1"};
  const std::pair<std::string, std::string> host{"host", "broker.example:8443"};
  CHECK(ok({csrf, host, {"origin", "https://broker.example:8443"}}));
  CHECK(ok(
      {csrf, host, {"origin", "https://BROKER.example:8443"}, {"sec-fetch-site", "same-origin"}}));
  CHECK(ok({csrf, host, {"sec-fetch-site", "same-origin"}}));
  CHECK(ok({csrf, {"host", "broker.example"}, {"origin", "https://broker.example"}}));
  CHECK(ok({csrf, {"host", "broker.example:443"}, {"origin", "https://broker.example"}}));
  CHECK(ok({csrf, {"host", "[::1]:8443"}, {"origin", "https://[::1]:8443"}}));
  // Without the header: whatever the browser says about the origin.
  CHECK_FALSE(ok({host, {"origin", "https://broker.example:8443"}}));
  CHECK_FALSE(ok({{"x-apono-csrf", "0"}, host, {"origin", "https://broker.example:8443"}}));
  // Another site, another port, another scheme, or nothing to go on.
  CHECK_FALSE(ok({csrf, host, {"origin", "https://evil.example"}}));
  CHECK_FALSE(ok({csrf, host, {"origin", "https://broker.example:9443"}}));
  CHECK_FALSE(ok({csrf, host, {"origin", "http://broker.example:8443"}}));
  CHECK_FALSE(ok({csrf, host, {"origin", "null"}}));
  CHECK_FALSE(ok({csrf, host, {"origin", "https://broker.example:8443/path"}}));
  CHECK_FALSE(
      ok({csrf, host, {"origin", "https://evil.example"}, {"sec-fetch-site", "same-origin"}}));
  CHECK_FALSE(ok(
      {csrf, host, {"origin", "https://broker.example:8443"}, {"sec-fetch-site", "cross-site"}}));
  CHECK_FALSE(ok({csrf, host, {"sec-fetch-site", "same-site"}}));
  CHECK_FALSE(ok({csrf, host, {"sec-fetch-site", "none"}}));
  CHECK_FALSE(ok({csrf, host}));
  CHECK_FALSE(ok({csrf, {"origin", "https://broker.example:8443"}}));  // no Host to compare
  CHECK(portal::is_safe_method("GET"));
  CHECK(portal::is_safe_method("HEAD"));
  CHECK(portal::is_safe_method("OPTIONS"));
  CHECK_FALSE(portal::is_safe_method("POST"));
  CHECK_FALSE(portal::is_safe_method("DELETE"));
  CHECK_FALSE(portal::is_safe_method("get"));
}

TEST_CASE("a session lives while used, ends when idle, and ends at its lifetime regardless") {
  harness h;
  auto [s, secret] = h.start("alice");
  CHECK(secret.size() == 43);
  CHECK(s.who.user == "alice");
  CHECK_FALSE(s.who.admin);
  CHECK(s.idle_timeout == 10min);
  CHECK(s.expires_at == h.clock.now() + 1h);
  CHECK(s.hash == common::sha256_hex(secret));
  REQUIRE(h.started_ids == std::vector<std::string>{s.hash.substr(0, 12)});
  // The store has the hash only.
  auto row = h.st.find_browser_session(s.hash);
  REQUIRE(row);
  CHECK(row->user == "alice");
  CHECK_FALSE(h.st.find_browser_session(secret));

  SECTION("used every 9 minutes it outlives the idle timeout, up to its lifetime") {
    for (int i = 0; i < 6; ++i) {
      h.clock.advance(9min);
      CHECK(h.live(secret));
    }
    h.clock.advance(5min);  // 59 minutes in, used 5 minutes ago
    CHECK(h.live(secret));
    h.clock.advance(1min);  // the hour is up
    CHECK_FALSE(h.live(secret));
    CHECK_FALSE(h.st.find_browser_session(s.hash));  // the row went with it
  }
  SECTION("unused for the idle timeout it ends") {
    h.clock.advance(9min + 59s);
    CHECK(h.live(secret, false));
    h.clock.advance(1s);
    CHECK_FALSE(h.live(secret));
  }
  SECTION("a background call (the event feed) keeps nothing alive") {
    h.clock.advance(6min);
    CHECK(h.live(secret, false));
    h.clock.advance(4min);
    CHECK_FALSE(h.live(secret, false));
  }
  SECTION("its last use is written at most once a minute") {
    h.clock.advance(30s);
    CHECK(h.live(secret));
    CHECK(h.st.find_browser_session(s.hash)->last_seen_at == row->last_seen_at);
    h.clock.advance(31s);
    CHECK(h.live(secret));
    CHECK(h.st.find_browser_session(s.hash)->last_seen_at == h.clock.now());
  }
  SECTION("signing out ends it, once") {
    h.sessions.end(secret);
    CHECK_FALSE(h.live(secret));
    h.sessions.end(secret);  // nothing left to end: no error
    auto audit = h.st.audit_after(0, std::nullopt, false, 10);
    REQUIRE(audit.size() == 1);
    CHECK(audit[0].action == "auth.logout");
    CHECK(audit[0].actor == "alice");
    CHECK(audit[0].detail.find(s.hash.substr(0, 12)) != std::string::npos);
    CHECK(audit[0].detail.find(secret) == std::string::npos);
  }
  SECTION("signing in again from the same browser replaces it") {
    auto [again, secret2] = h.start("alice", secret);
    CHECK(secret2 != secret);
    CHECK_FALSE(h.live(secret));
    CHECK(h.live(secret2));
  }
  SECTION("a user removed from the config is signed out") {
    h.holder.set(broker::parse_config("users: [{name: carol}]", "aponod.yaml"));
    CHECK_FALSE(h.live(secret));
  }
  SECTION("a reload's shorter idle timeout applies to live sessions") {
    h.clock.advance(3min);
    h.holder.set(
        broker::parse_config("portal: {idle_timeout: 2m}\nusers: [{name: alice}]", "aponod.yaml"));
    CHECK_FALSE(h.live(secret));
  }
}

TEST_CASE("secrets that are not sessions: refused without a trace") {
  harness h;
  auto [s, secret] = h.start("carol");
  CHECK(s.who.admin);
  CHECK_FALSE(h.live(""));
  CHECK_FALSE(h.live("short"));
  CHECK_FALSE(h.live(std::string(43, '!')));
  CHECK_FALSE(h.live(common::base64url(common::random_bytes(32))));
  CHECK_FALSE(h.live(secret.substr(0, 42) + (secret.back() == 'A' ? "B" : "A")));
  CHECK(h.live(secret));
  CHECK_THROWS_AS(h.start("mallory"), common::api_error);  // only users of the config
}

TEST_CASE("the touch interval: a minute, or a tenth of a short idle timeout") {
  CHECK(portal::sessions::touch_interval(30min) == 1min);
  CHECK(portal::sessions::touch_interval(5min) == 30s);
  CHECK(portal::sessions::touch_interval(3s) == 300ms);
}
