// The portal's files served by a real aponod over HTTPS: a build of aponod's main that embeds
// the test front end (broker/portal/fixture_dist), so what is checked is the generator's output,
// the router and the server together, whatever web/ holds. Also that the API beside it never
// falls back to the app, and that the aponod under test (which embeds web/dist when it was
// built) answers its pages one way or the other.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "common/secrets.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/process.hpp"

using namespace apono::test;
namespace json = boost::json;

namespace {

const std::filesystem::path dist = PORTAL_FIXTURE_DIST;

std::string header(const raw_answer& a, const std::string& name) {
  auto it = a.headers.find(name);
  return it == a.headers.end() ? std::string() : it->second;
}

std::string gunzip(const std::string& packed) {
  auto r = run({"gzip", "-dc"}, packed);
  REQUIRE(r.status == 0);
  return r.output;
}

void check_portal_headers(const raw_answer& a) {
  CHECK(header(a, "content-security-policy") ==
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'");
  CHECK(header(a, "x-content-type-options") == "nosniff");
  CHECK(header(a, "referrer-policy") == "no-referrer");
  CHECK(header(a, "x-frame-options") == "DENY");
  CHECK(header(a, "cross-origin-opener-policy") == "same-origin");
}

// What every API answer carries, error or not.
void check_api_headers(const raw_answer& a) {
  CHECK(a.headers.count("content-security-policy") == 0);
  CHECK(header(a, "content-type") == "application/json");
  CHECK(header(a, "cache-control") == "no-store");
  CHECK(header(a, "x-content-type-options") == "nosniff");
  CHECK(header(a, "referrer-policy") == "no-referrer");
}

}  // namespace

TEST_CASE("aponod serves the embedded portal: the app for every page, assets, gzip, headers") {
  pg_fixture pg;
  broker_fixture b(pg, {}, APONOD_PORTAL_FIXTURE);
  const auto index = apono::common::read_file(dist / "index.html");
  const auto js = apono::common::read_file(dist / "assets/app-3f9a1c2b.js");

  {  // / and deep links: index.html, never stored, gzip when the browser takes it
    for (const std::string target : {"/", "/requests/AR-00012", "/approvals?scope=all"}) {
      INFO(target);
      auto plain = raw_https(b, "GET", target, {});
      CHECK(plain.status == 200);
      CHECK(header(plain, "content-type") == "text/html; charset=utf-8");
      CHECK(header(plain, "cache-control") == "no-store");
      CHECK(header(plain, "vary") == "Accept-Encoding");
      CHECK(plain.headers.count("content-encoding") == 0);
      CHECK(plain.body == index);
      check_portal_headers(plain);
      auto packed = raw_https(b, "GET", target, {{"Accept-Encoding", "gzip, deflate, br"}});
      CHECK(packed.status == 200);
      CHECK(header(packed, "content-encoding") == "gzip");
      CHECK(packed.body.size() < index.size());
      CHECK(gunzip(packed.body) == index);
      check_portal_headers(packed);
    }
  }
  {  // hashed assets for a year; a missing one is a 404, not the app
    auto a = raw_https(b, "GET", "/assets/app-3f9a1c2b.js", {{"Accept-Encoding", "gzip"}});
    CHECK(a.status == 200);
    CHECK(header(a, "content-type") == "text/javascript; charset=utf-8");
    CHECK(header(a, "cache-control") == "public, max-age=31536000, immutable");
    CHECK(gunzip(a.body) == js);
    check_portal_headers(a);
    auto png = raw_https(b, "GET", "/assets/logo-5b6c7d8e.png", {{"Accept-Encoding", "gzip"}});
    CHECK(png.status == 200);
    CHECK(header(png, "content-type") == "image/png");
    CHECK(png.headers.count("content-encoding") == 0);
    CHECK(png.body == apono::common::read_file(dist / "assets/logo-5b6c7d8e.png"));
    auto missing = raw_https(b, "GET", "/assets/app-00000000.js", {});
    CHECK(missing.status == 404);
    CHECK(json::parse(missing.body).at("error").at("code") == "not_found");
    check_portal_headers(missing);
  }
  {  // HEAD: the GET's headers and length, no body
    auto head = raw_https(b, "HEAD", "/requests/AR-1", {});
    CHECK(head.status == 200);
    CHECK(head.body.empty());
    CHECK(header(head, "content-length") == std::to_string(index.size()));
    check_portal_headers(head);
  }
  {  // the API beside it never falls back to the app
    auto session = raw_https(b, "GET", "/api/v1/session", {});
    CHECK(session.status == 401);
    check_api_headers(session);
    auto authed = raw_https(b, "GET", "/api/v1/nothing-here",
                            {{"Authorization", "Bearer " + b.token("alice")}});
    CHECK(authed.status == 404);
    check_api_headers(authed);
    for (const std::string target :
         {"/api", "/api/", "/api/v2/session", "/oauth", "/oauth/authorize", "/healthz/x",
          "/metrics/x", "//api/v1/session", "/x/../api/v1/session", "/%2e%2e/etc/passwd"}) {
      INFO(target);
      auto a = raw_https(b, "GET", target, {{"Accept", "text/html"}});
      CHECK(a.status == 404);
      check_api_headers(a);
      CHECK(a.body.find("apono-portal-fixture") == std::string::npos);
    }
    auto health = raw_https(b, "GET", "/healthz", {});
    CHECK(health.status == 200);
    check_api_headers(health);
    // The CLI's login page stays itself, with its own policy.
    auto login = raw_https(b, "GET", "/login", {});
    CHECK(header(login, "content-type") == "text/html; charset=utf-8");
    CHECK(login.body.find("apono-portal-fixture") == std::string::npos);
    CHECK(header(login, "content-security-policy").find("style-src 'unsafe-inline'") !=
          std::string::npos);
  }
  {  // other methods on pages are unknown endpoints
    auto post =
        raw_https(b, "POST", "/requests/AR-1", {{"Content-Type", "application/json"}}, "{}");
    CHECK(post.status == 404);
    CHECK(json::parse(post.body).at("error").at("code") == "not_found");
    check_portal_headers(post);
  }
}

TEST_CASE("the aponod under test answers / with its portal, or says it was not built") {
  pg_fixture pg;
  broker_fixture b(pg);
  auto a = raw_https(b, "GET", "/requests/AR-00012", {});
  INFO(a.body.substr(0, 300));
  // 200 when web/dist existed when aponod was configured, else the page saying so.
  CHECK((a.status == 200 || a.status == 503));
  CHECK(header(a, "content-type") == "text/html; charset=utf-8");
  check_portal_headers(a);
  if (a.status == 503) CHECK(a.body.find("The web portal is not built") != std::string::npos);
  CHECK(raw_https(b, "GET", "/api/v1/nothing", {}).status == 401);
}
