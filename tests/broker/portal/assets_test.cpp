// The portal's files as aponod serves them: what the build's generator embeds (this test links
// the generator's output for broker/portal/fixture_dist, a small front end of its own), and the
// answers: SPA fallback, hashed assets, gzip negotiation, methods and the security headers.
#include "broker/portal/assets.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <set>

#include "common/secrets.hpp"
#include "tests/support/process.hpp"

using namespace apono;
namespace portal = apono::broker::portal;
namespace fs = std::filesystem;

namespace {

const fs::path dist = PORTAL_FIXTURE_DIST;

std::string text(std::span<const unsigned char> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

std::string gunzip(const std::string& packed) {
  auto r = test::run({"gzip", "-dc"}, packed);
  REQUIRE(r.status == 0);
  return r.output;
}

broker::http::request get(std::string target,
                          std::vector<std::pair<std::string, std::string>> headers = {}) {
  broker::http::request r;
  r.method = "GET";
  r.target = std::move(target);
  r.headers = std::move(headers);
  return r;
}

std::map<std::string, std::string> headers_of(const broker::http::response& res) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : res.headers) {
    REQUIRE(out.count(name) == 0);  // each header once
    out[name] = value;
  }
  return out;
}

void check_security_headers(const broker::http::response& res) {
  auto h = headers_of(res);
  CHECK(h["Content-Security-Policy"] ==
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'");
  CHECK(h["X-Content-Type-Options"] == "nosniff");
  CHECK(h["Referrer-Policy"] == "no-referrer");
  CHECK(h["X-Frame-Options"] == "DENY");
  CHECK(h["Cross-Origin-Opener-Policy"] == "same-origin");
}

}  // namespace

TEST_CASE("the build embeds every file of the dist, with a gzip copy where it pays") {
  auto assets = portal::embedded_assets();
  std::set<std::string> paths;
  for (const auto& a : assets) paths.insert(std::string(a.path));
  CHECK(paths == std::set<std::string>{"/index.html", "/favicon.svg", "/assets/app-3f9a1c2b.js",
                                       "/assets/app-7d4e8f10.css", "/assets/logo-5b6c7d8e.png"});
  for (const auto& a : assets) {
    INFO(a.path);
    const auto original = common::read_file(dist / std::string(a.path.substr(1)));
    CHECK(text(a.body) == original);
    const bool compressible =
        a.path.ends_with(".html") || a.path.ends_with(".js") || a.path.ends_with(".css");
    // The PNG is compressed already and the icon too small to gain: served as they are.
    CHECK(a.gzip.empty() == !compressible);
    if (!a.gzip.empty()) {
      CHECK(a.gzip.size() * 10 <= a.body.size() * 9);
      CHECK(gunzip(text(a.gzip)) == original);
      // gzip -n: no name and no time in the header, so a rebuild embeds the same bytes.
      CHECK(a.gzip[3] == 0);  // FLG: no FNAME
      CHECK(a.gzip[4] == 0);
      CHECK(a.gzip[5] == 0);
      CHECK(a.gzip[6] == 0);
      CHECK(a.gzip[7] == 0);  // MTIME
    }
  }
}

TEST_CASE("portal paths: everything but the API, health, metrics and the CLI's login") {
  for (auto p : {"/", "/index.html", "/requests/AR-00012", "/approvals", "/assets/app.js",
                 "/favicon.svg", "/apix", "/loginx", "/metricsx", "/oauthx/y", "/x/api/v1"})
    CHECK(portal::is_portal_path(p));
  CHECK(portal::is_portal_path("/requests/"));
  CHECK(portal::is_portal_path("/.env"));  // a name, not a dot segment: the app's 404 page
  for (auto p : {"/api", "/api/", "/api/v1/session", "/api/v2/x", "/healthz", "/healthz/x",
                 "/readyz", "/metrics", "/metrics/", "/login", "/login/x", "/oauth", "/oauth/token",
                 "/API/V1/SESSION", "/Api", "/HEALTHZ"})
    CHECK_FALSE(portal::is_portal_path(p));
  // Paths a proxy might normalize into another one are nobody's page.
  for (auto p : {"", "x", "//api/v1/session", "/x/../api/v1/audit", "/../../etc/passwd", "/./",
                 "/a//b", "/requests/..", "/assets/./app.js"})
    CHECK_FALSE(portal::is_portal_path(p));
}

TEST_CASE("content types by extension, text in UTF-8") {
  CHECK(portal::content_type_of("/index.html") == "text/html; charset=utf-8");
  CHECK(portal::content_type_of("/assets/a-1.js") == "text/javascript; charset=utf-8");
  CHECK(portal::content_type_of("/assets/a-1.CSS") == "text/css; charset=utf-8");
  CHECK(portal::content_type_of("/favicon.svg") == "image/svg+xml");
  CHECK(portal::content_type_of("/assets/f.woff2") == "font/woff2");
  CHECK(portal::content_type_of("/assets/x.png") == "image/png");
  CHECK(portal::content_type_of("/assets/x.js.map") == "application/json");
  CHECK(portal::content_type_of("/LICENSE") == "application/octet-stream");
  CHECK(portal::content_type_of("/assets.d/x") == "application/octet-stream");
}

TEST_CASE("Accept-Encoding: gzip when named or covered by *, never at q=0") {
  CHECK(portal::accepts_gzip("gzip"));
  CHECK(portal::accepts_gzip("gzip, deflate, br, zstd"));
  CHECK(portal::accepts_gzip("br;q=1.0, GZIP;q=0.5"));
  CHECK(portal::accepts_gzip("x-gzip"));
  CHECK(portal::accepts_gzip("*"));
  CHECK(portal::accepts_gzip("gzip;q=0.001"));
  CHECK_FALSE(portal::accepts_gzip(""));
  CHECK_FALSE(portal::accepts_gzip("identity"));
  CHECK_FALSE(portal::accepts_gzip("br, deflate"));
  CHECK_FALSE(portal::accepts_gzip("gzip;q=0"));
  CHECK_FALSE(portal::accepts_gzip("gzip; q=0.000"));
  CHECK_FALSE(portal::accepts_gzip("*;q=0"));
  CHECK_FALSE(portal::accepts_gzip("gzip;q=0, *"));  // refused by name, whatever * says
  CHECK(portal::accepts_gzip("*;q=0, gzip"));
}

TEST_CASE("serving: the app for every page, hashed assets for a year, gzip when taken") {
  const portal::files files(portal::embedded_assets());
  REQUIRE(files.size() == 5);
  const auto index = common::read_file(dist / "index.html");

  SECTION("index.html for /, for deep links and for missing root files; never stored") {
    for (auto target :
         {"/", "/requests/AR-00012", "/approvals/", "/index.html", "/robots.txt", "/a/b/c?x=1"}) {
      INFO(target);
      auto res = files.serve(
          get(target), std::string_view(target).substr(0, std::string_view(target).find('?')));
      CHECK(res.status == 200);
      CHECK(res.content_type == "text/html; charset=utf-8");
      CHECK(res.body == index);
      auto h = headers_of(res);
      CHECK(h["Cache-Control"] == "no-store");
      CHECK(h["Vary"] == "Accept-Encoding");
      CHECK(h.count("Content-Encoding") == 0);
      check_security_headers(res);
    }
  }
  SECTION("an asset by its hashed name: immutable; a missing one is a JSON 404, not the app") {
    auto js = files.serve(get("/assets/app-3f9a1c2b.js"), "/assets/app-3f9a1c2b.js");
    CHECK(js.status == 200);
    CHECK(js.content_type == "text/javascript; charset=utf-8");
    CHECK(js.body == common::read_file(dist / "assets/app-3f9a1c2b.js"));
    CHECK(headers_of(js)["Cache-Control"] == "public, max-age=31536000, immutable");
    check_security_headers(js);
    auto png = files.serve(get("/assets/logo-5b6c7d8e.png"), "/assets/logo-5b6c7d8e.png");
    CHECK(png.content_type == "image/png");
    CHECK(headers_of(png).count("Vary") == 0);  // one form only
    for (auto missing : {"/assets/app-00000000.js", "/assets/", "/assets", "/assets/x/app.js"}) {
      INFO(missing);
      auto res = files.serve(get(missing), missing);
      CHECK(res.status == 404);
      CHECK(res.content_type == "application/json");
      CHECK(res.body.find("\"not_found\"") != std::string::npos);
      check_security_headers(res);
    }
  }
  SECTION("another root file is itself, not stored either") {
    auto icon = files.serve(get("/favicon.svg"), "/favicon.svg");
    CHECK(icon.status == 200);
    CHECK(icon.content_type == "image/svg+xml");
    CHECK(icon.body == common::read_file(dist / "favicon.svg"));
    CHECK(headers_of(icon)["Cache-Control"] == "no-store");
  }
  SECTION("gzip when the browser takes it, the same bytes otherwise") {
    auto packed = files.serve(get("/assets/app-7d4e8f10.css", {{"accept-encoding", "gzip, br"}}),
                              "/assets/app-7d4e8f10.css");
    auto h = headers_of(packed);
    CHECK(h["Content-Encoding"] == "gzip");
    CHECK(h["Vary"] == "Accept-Encoding");
    CHECK(gunzip(packed.body) == common::read_file(dist / "assets/app-7d4e8f10.css"));
    auto refused = files.serve(get("/", {{"accept-encoding", "gzip;q=0"}}), "/");
    CHECK(headers_of(refused).count("Content-Encoding") == 0);
    CHECK(refused.body == index);
    // The PNG has no gzip form: served as it is, whatever the browser takes.
    auto png = files.serve(get("/assets/logo-5b6c7d8e.png", {{"accept-encoding", "gzip"}}),
                           "/assets/logo-5b6c7d8e.png");
    CHECK(headers_of(png).count("Content-Encoding") == 0);
  }
  SECTION("HEAD as GET (the server drops the body); other methods are unknown endpoints") {
    auto head = get("/requests/AR-1");
    head.method = "HEAD";
    auto res = files.serve(head, "/requests/AR-1");
    CHECK(res.status == 200);
    CHECK(res.body == index);
    for (auto method : {"POST", "PUT", "DELETE", "OPTIONS"}) {
      auto req = get("/");
      req.method = method;
      auto refused = files.serve(req, "/");
      CHECK(refused.status == 404);
      CHECK(refused.content_type == "application/json");
      check_security_headers(refused);
    }
  }
}

TEST_CASE("without files every page says the portal was not built, and assets are 404") {
  const portal::files none;
  auto res = none.serve(get("/requests/AR-1"), "/requests/AR-1");
  CHECK(res.status == 503);
  CHECK(res.content_type == "text/html; charset=utf-8");
  CHECK(res.body.find("web portal is not part of this aponod") != std::string::npos);
  CHECK(res.body.find("<script") == std::string::npos);
  check_security_headers(res);
  CHECK(none.serve(get("/assets/a.js"), "/assets/a.js").status == 404);
}
