// The authorization matrix (issue 7): every endpoint aponod serves × every kind of caller, each
// expectation written down in one table below (taken from docs/api.md and DESIGN.md's rules,
// not from watching the broker) and checked against a real `aponod --dev`. The callers are the
// requester of the request under test (alice), the approver of its access flow, another
// engineer (bob), an admin, no token, and a well-formed token nobody was issued. Set
// APONO_AUTHZ_MATRIX_MD=FILE to get the checked table as Markdown for docs/reliability.md.
#include <catch2/catch.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include <array>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string_view>

#include "common/secrets.hpp"
#include "tests/support/broker_fixture.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

// The callers, in table order.
enum caller_kind : std::size_t { requester, approver, other, admin, no_token, bad_token };
constexpr std::size_t caller_count = 6;
constexpr std::array<std::string_view, caller_count> caller_titles{
    "requester (alice)", "approver", "other user (bob)", "admin", "no token", "invalid token"};
// The dev user each caller is, empty for the two without a valid token.
constexpr std::array<std::string_view, caller_count> caller_users{"alice", "approver", "bob",
                                                                  "admin", "",         ""};

// What a cell calls the endpoint on. Each subject is alice's.
enum class subject {
  none,          // no request involved
  pending,       // a PENDING read_write request (manual flow engineers-write, approver decides)
  active,        // the same, approved by the approver and ACTIVE
  active_auto,   // an ACTIVE read_only request (automatic flow engineers-read-only: no approver)
  active_ssh,    // an ACTIVE ssh request (automatic flow engineers-ssh)
  revoked,       // a PENDING read_write request that alice withdrew: REVOKED
  unknown,       // AR-99999, which does not exist
  auth_code,     // a fresh authorization code from alice's browser login
  issued_token,  // a token the caller got from browser login (callers with a token only)
};

// What "shown" means in a cell whose answer is checked for visibility as well as status.
enum class view {
  none,           // status only
  lists_request,  // a JSON array holding the subject (by "id" or "request_id")
  has_event,      // /events answer holding an event of the subject
  has_audit,      // /audit answer holding an event of the subject
  lists_pg,       // a JSON array holding the integration pg-local
  lists_appdb,    // a JSON array holding the resource appdb
  lists_perm,     // a JSON array holding the permission read_write
  lists_bundle,   // a JSON array holding the bundle all-databases-read-only
  is_self,        // /session names the caller, with the right admin and approver flags
  token_dead,     // afterwards the revoked token gets 401 and the caller's configured one 200
  ca_key,         // text: the SSH user CA's public key
  metrics,        // Prometheus text
  login_form,     // the HTML sign-in form
  code_redirect,  // a 302 to the loopback redirect URI carrying a code
  token,          // a JSON token answer for alice
  json_ok,        // a JSON object answer (health, readiness)
};

constexpr std::array<std::string_view, 16> view_titles{"",
                                                       "lists the request",
                                                       "has the request's events",
                                                       "has the request's audit events",
                                                       "lists pg-local",
                                                       "lists appdb",
                                                       "lists read_write",
                                                       "lists the bundle",
                                                       "names the caller",
                                                       "the token stops working",
                                                       "the CA key",
                                                       "Prometheus text",
                                                       "the sign-in form",
                                                       "a redirect with a code",
                                                       "a token for alice",
                                                       "a JSON status"};

// One expectation: the status, and for checked rows whether the subject is shown (1), hidden
// (0) or not asked (-1).
struct cell {
  int status = 0;
  int shown = -1;
};
constexpr cell is(int status) {
  return {status, -1};
}
constexpr cell shown(int status) {
  return {status, 1};
}
constexpr cell hidden(int status) {
  return {status, 0};
}

// One endpoint on one subject. In targets and bodies, {id} is the subject's id, {after} the
// event feed position just before it was created, {code} and {verifier} its login code and
// PKCE verifier, {login} the OAuth parameters of the login page, {password} alice's password.
struct row {
  std::string_view method;
  std::string_view target;
  std::string_view body;
  subject on;
  bool fresh;  // changes state: every cell gets a new subject
  view check;
  std::array<cell, caller_count> expect;  // in caller_kind order
  std::string_view why;                   // where the expectation comes from
  std::string_view note = {};             // what is sent, when the endpoint alone does not say
};

constexpr cell y200 = shown(200), c200 = is(200), c201 = is(201), c400 = is(400), c401 = is(401),
               c403 = is(403), c404 = is(404), c409 = is(409), c422 = is(422);

// The matrix. Rules from docs/api.md: every /api/v1 call needs a token (401, also for an
// unknown endpoint there); a request the caller may not see is 404 (only its requester, its
// flow's approvers and admins see it); a caller who sees it but may not act is 403; a wrong
// state is 409. The operational endpoints, /api/v1/ssh/ca and the login endpoints take no
// token and ignore one. A method an endpoint does not serve is an unknown endpoint (404).
// clang-format off
const std::vector<row> matrix{
  // Operations (no token).
  {"GET", "/healthz", "", subject::none, false, view::json_ok,
   {y200, y200, y200, y200, y200, y200}, "api.md Operations: no token"},
  {"GET", "/readyz", "", subject::none, false, view::json_ok,
   {y200, y200, y200, y200, y200, y200}, "api.md Operations: no token"},
  {"GET", "/metrics", "", subject::none, false, view::metrics,
   {y200, y200, y200, y200, y200, y200}, "api.md Operations: no token"},
  {"GET", "/api/v1/ssh/ca", "", subject::none, false, view::ca_key,
   {y200, y200, y200, y200, y200, y200}, "api.md Operations: public, no token"},
  {"POST", "/healthz", "", subject::none, false, view::none,
   {c404, c404, c404, c404, c404, c404}, "only GET is served: unknown endpoint"},
  {"POST", "/readyz", "", subject::none, false, view::none,
   {c404, c404, c404, c404, c404, c404}, "only GET is served: unknown endpoint"},
  {"DELETE", "/metrics", "", subject::none, false, view::none,
   {c404, c404, c404, c404, c404, c404}, "only GET is served: unknown endpoint"},
  {"POST", "/api/v1/ssh/ca", "", subject::none, false, view::none,
   {c404, c404, c404, c404, c404, c404}, "only GET is served: unknown endpoint"},

  // Login (public; a bearer token plays no part).
  {"GET", "/login?{login}", "", subject::none, false, view::login_form,
   {y200, y200, y200, y200, y200, y200}, "api.md Login: 200 sign-in form",
   "valid OAuth parameters"},
  {"GET", "/login", "", subject::none, false, view::none,
   {c400, c400, c400, c400, c400, c400}, "api.md Login: 400 page for bad parameters",
   "no parameters"},
  {"POST", "/login", "username=alice&password={password}&{login}", subject::none, false,
   view::code_redirect, {shown(302), shown(302), shown(302), shown(302), shown(302), shown(302)}, "api.md Login: 302 with a code",
   "alice, right password"},
  {"POST", "/login", "username=nobody&password=wrong-password&{login}", subject::none, false,
   view::none, {is(401), c401, c401, c401, c401, is(429)},
   "api.md Login: 401 form again; the sixth failure for one name within 15 minutes is 429",
   "an unknown user, wrong password"},
  {"POST", "/oauth/token",
   R"({"grant_type":"authorization_code","code":"{code}","code_verifier":"{verifier}","redirect_uri":"http://127.0.0.1:53123/callback","client_id":"apono-cli"})",
   subject::auth_code, true, view::token, {y200, y200, y200, y200, y200, y200},
   "api.md Login: the code is the credential, not a bearer token", "right verifier"},
  {"POST", "/oauth/token",
   R"({"grant_type":"authorization_code","code":"nope","code_verifier":"{verifier}","redirect_uri":"http://127.0.0.1:53123/callback","client_id":"apono-cli"})",
   subject::auth_code, false, view::none, {c400, c400, c400, c400, c400, c400},
   "api.md Login: invalid code is 400", "wrong code"},
  {"GET", "/oauth/token", "", subject::none, false, view::none,
   {c404, c404, c404, c404, c404, c404}, "only POST is served: unknown endpoint"},
  {"PUT", "/login", "", subject::none, false, view::none,
   {c404, c404, c404, c404, c404, c404}, "only GET and POST are served: unknown endpoint"},

  // Identity and tokens.
  {"GET", "/api/v1/session", "", subject::none, false, view::is_self,
   {y200, y200, y200, y200, c401, c401}, "api.md Identity: the caller's own identity"},
  {"POST", "/api/v1/session/revoke", "", subject::none, false, view::none,
   {c409, c409, c409, c409, c401, c401}, "api.md Login: a config token cannot be revoked (409)",
   "the caller's configured token"},
  {"POST", "/api/v1/session/revoke", "", subject::issued_token, true, view::token_dead,
   {y200, y200, y200, y200, c401, c401}, "api.md Login: the calling token no longer works"},

  // Web portal sessions: sign-in and sign-out only from the portal's pages, which a bearer
  // call (no X-Apono-CSRF, no Origin) is not.
  {"POST", "/api/v1/browser-session", R"({"username":"alice","password":"{password}"})",
   subject::none, false, view::none, {c403, c403, c403, c403, c403, c403},
   "api.md Web portal sessions: 403 unless from the portal's pages", "alice, right password"},
  {"DELETE", "/api/v1/browser-session", "", subject::none, false, view::none,
   {c403, c403, c403, c403, c403, c403}, "api.md Web portal sessions: 403 unless from the portal's pages"},
  {"GET", "/api/v1/browser-session", "", subject::none, false, view::none,
   {c404, c404, c404, c404, c404, c404}, "only POST and DELETE are served: unknown endpoint"},

  // Catalog: only what some flow lets the caller request (approver and admin: nothing).
  {"GET", "/api/v1/integrations", "", subject::none, false, view::lists_pg,
   {shown(200), hidden(200), shown(200), hidden(200), c401, c401}, "api.md Catalog"},
  {"GET", "/api/v1/integrations/pg-local/resource-types", "", subject::none, false, view::none,
   {c200, c404, c200, c404, c401, c401}, "api.md Catalog: unknown to who cannot request it"},
  {"GET", "/api/v1/integrations/nope/resource-types", "", subject::none, false, view::none,
   {c404, c404, c404, c404, c401, c401}, "api.md: unknown id"},
  {"GET", "/api/v1/resources?integration=pg-local", "", subject::none, false, view::lists_appdb,
   {shown(200), c404, shown(200), c404, c401, c401}, "api.md Catalog"},
  {"GET", "/api/v1/permissions?integration=pg-local&resource_type=database", "", subject::none,
   false, view::lists_perm, {shown(200), c404, shown(200), c404, c401, c401}, "api.md Catalog"},
  {"GET", "/api/v1/bundles", "", subject::none, false, view::lists_bundle,
   {shown(200), hidden(200), shown(200), hidden(200), c401, c401}, "api.md Catalog"},

  // Creating requests: only users some flow allows.
  {"POST", "/api/v1/access-requests",
   R"({"integration":"pg-local","resource_type":"database","resources":["appdb"],"permissions":["read_only"],"duration":"1h","justification":"matrix"})",
   subject::none, false, view::none, {c201, c400, c201, c400, c401, c401},
   "api.md: 201; pg-local is not in the approver's or admin's catalog: unknown id (400)",
   "read_only on appdb (automatic flow)"},
  {"POST", "/api/v1/access-requests",
   R"({"integration":"pg-local","resources":"appdb","permissions":"read_write","justification":"matrix","dry_run":true})",
   subject::none, false, view::none, {c200, c400, c200, c400, c401, c401},
   "api.md: dry_run answers 200 and stores nothing", "dry_run, read_write on appdb"},
  {"POST", "/api/v1/access-requests", R"({"bundle":"all-databases-read-only","justification":"matrix"})",
   subject::none, false, view::none, {c201, c403, c201, c403, c401, c401},
   "api.md: 403 when no access flow allows it", "the bundle"},
  {"POST", "/api/v1/access-requests/plan",
   R"({"integration":"pg-local","resources":["appdb"],"permissions":["read_only","read_write"],"justification":"matrix"})",
   subject::none, false, view::none, {c200, c400, c200, c400, c401, c401},
   "api.md: a plan for who may create; pg-local is not in the approver's or admin's catalog (400)",
   "read_only and read_write on appdb (two flows)"},

  // Listing and reading requests.
  {"GET", "/api/v1/access-requests", "", subject::pending, false, view::lists_request,
   {shown(200), hidden(200), hidden(200), hidden(200), c401, c401},
   "api.md: scope mine (default) = own requests"},
  {"GET", "/api/v1/access-requests?scope=approvable", "", subject::pending, false,
   view::lists_request, {hidden(200), shown(200), hidden(200), hidden(200), c401, c401},
   "api.md: PENDING ones the caller may approve (never one's own)"},
  {"GET", "/api/v1/access-requests?scope=all&days=1", "", subject::pending, false,
   view::lists_request, {shown(200), shown(200), hidden(200), shown(200), c401, c401},
   "api.md: all the caller may see"},
  {"GET", "/api/v1/access-requests?scope=all", "", subject::active_auto, false,
   view::lists_request, {shown(200), hidden(200), hidden(200), shown(200), c401, c401},
   "api.md: an automatic flow has no approvers"},
  {"GET", "/api/v1/access-requests/{id}", "", subject::pending, false, view::none,
   {c200, c200, c404, c200, c401, c401}, "api.md: requester, the flow's approvers, admins"},
  {"GET", "/api/v1/access-requests/{id}", "", subject::active_auto, false, view::none,
   {c200, c404, c404, c200, c401, c401}, "api.md: approvers of other flows may not see it"},
  {"GET", "/api/v1/access-requests/{id}", "", subject::unknown, false, view::none,
   {c404, c404, c404, c404, c401, c401}, "api.md: unknown id"},
  {"GET", "/api/v1/access-requests/{id}/events", "", subject::pending, false, view::has_event,
   {y200, y200, c404, y200, c401, c401}, "api.md: whoever may see the request"},
  {"GET", "/api/v1/access-requests/{id}/events", "", subject::active_auto, false,
   view::has_event, {y200, c404, c404, y200, c401, c401},
   "api.md: approvers of other flows may not see it"},
  {"GET", "/api/v1/access-requests/{id}/events", "", subject::unknown, false, view::none,
   {c404, c404, c404, c404, c401, c401}, "api.md: unknown id"},
  {"POST", "/api/v1/access-requests/{id}/events", "{}", subject::pending, false, view::none,
   {c404, c404, c404, c404, c401, c401}, "only GET is served: unknown endpoint"},
  {"DELETE", "/api/v1/access-requests/{id}", "", subject::pending, false, view::none,
   {c404, c404, c404, c404, c401, c401}, "not served: unknown endpoint"},
  {"GET", "/api/v1/access-requests/{id}/approve", "", subject::pending, false, view::none,
   {c404, c404, c404, c404, c401, c401}, "not served: unknown endpoint"},

  // Decisions.
  {"POST", "/api/v1/access-requests/{id}/approve", "", subject::pending, true, view::none,
   {c403, c200, c404, c403, c401, c401},
   "api.md: an approver of the flow, not the requester; admins are not approvers"},
  {"POST", "/api/v1/access-requests/{id}/approve", "", subject::active, false, view::none,
   {c403, c409, c404, c403, c401, c401}, "api.md: 409 approve an ACTIVE request"},
  {"POST", "/api/v1/access-requests/{id}/reject", R"({"reason":"not now"})", subject::pending,
   true, view::none, {c403, c200, c404, c403, c401, c401}, "api.md: same as approve", "with a reason"},
  {"POST", "/api/v1/access-requests/{id}/revoke", "", subject::pending, true, view::none,
   {c200, c200, c404, c200, c401, c401}, "api.md: requester, approver, admin"},
  {"POST", "/api/v1/access-requests/{id}/revoke", R"({"reason":"done"})", subject::active, true,
   view::none, {c200, c200, c404, c200, c401, c401}, "api.md: requester, approver, admin", "with a reason"},
  {"POST", "/api/v1/access-requests/{id}/revoke", "", subject::revoked, false, view::none,
   {c409, c409, c404, c409, c401, c401}, "api.md: 409 wrong state"},
  {"POST", "/api/v1/access-requests/{id}/reset-credentials", "", subject::active, false,
   view::none, {c200, c403, c404, c403, c401, c401}, "api.md: requester, ACTIVE only"},
  {"POST", "/api/v1/access-requests/{id}/reset-credentials", "", subject::pending, false,
   view::none, {c409, c403, c404, c403, c401, c401}, "api.md: requester, ACTIVE only"},
  {"POST", "/api/v1/access-requests/{id}/request-again", R"({"justification":"again"})",
   subject::active, false, view::none, {c201, c403, c404, c403, c401, c401},
   "api.md: requester", "a new justification"},
  {"POST", "/api/v1/access-requests/{id}/request-again", "", subject::unknown, false, view::none,
   {c404, c404, c404, c404, c401, c401}, "api.md: unknown id"},

  // Sessions and credentials.
  {"GET", "/api/v1/access-sessions", "", subject::active, false, view::lists_request,
   {shown(200), hidden(200), hidden(200), hidden(200), c401, c401},
   "api.md: the caller's ACTIVE requests"},
  {"GET", "/api/v1/access-sessions/{id}/access-details", "", subject::active, false, view::none,
   {c200, c403, c404, c403, c401, c401}, "api.md: requester only, ACTIVE only"},
  {"GET", "/api/v1/access-sessions/{id}/access-details", "", subject::pending, false,
   view::none, {c409, c403, c404, c403, c401, c401}, "api.md: 409 when not ACTIVE"},
  {"POST", "/api/v1/access-sessions/{id}/access-details", "", subject::active, false,
   view::none, {c404, c404, c404, c404, c401, c401}, "not served: unknown endpoint"},
  {"POST", "/api/v1/access-sessions/{id}/ssh-certificate", R"({"public_key":"{ssh_key}"})",
   subject::active_ssh, false, view::none, {c201, c404, c404, c403, c401, c401},
   "api.md: requester only, ACTIVE only; approvers of other flows may not see it",
   "a fresh Ed25519 key"},
  {"POST", "/api/v1/access-sessions/{id}/ssh-certificate", R"({"public_key":"{ssh_key}"})",
   subject::active, false, view::none, {c422, c403, c404, c403, c401, c401},
   "api.md: requester only; a grant without SSH units (failed_precondition)"},
  {"POST", "/api/v1/access-sessions/{id}/ssh-certificate", R"({"public_key":"{ssh_key}"})",
   subject::pending, false, view::none, {c409, c403, c404, c403, c401, c401},
   "api.md: 409 when not ACTIVE"},

  // Events and audit.
  {"GET", "/api/v1/events?after={after}&timeout=0", "", subject::pending, false, view::has_event,
   {shown(200), shown(200), hidden(200), shown(200), c401, c401},
   "api.md: status changes the caller may see"},
  {"GET", "/api/v1/events?after={after}&timeout=0", "", subject::active_auto, false,
   view::has_event, {shown(200), hidden(200), hidden(200), shown(200), c401, c401},
   "api.md: status changes the caller may see"},
  {"GET", "/api/v1/audit?request={id}&limit=1000", "", subject::pending, false, view::has_audit,
   {c403, c403, c403, shown(200), c401, c401}, "api.md: admins"},
  {"GET", "/api/v1/audit", "", subject::none, false, view::none,
   {c403, c403, c403, c200, c401, c401}, "api.md: admins"},
  {"GET", "/api/v1/access-flows", "", subject::none, false, view::none,
   {c403, c403, c403, c200, c401, c401}, "api.md Access flows: admins"},
  {"POST", "/api/v1/access-flows", "{}", subject::none, false, view::none,
   {c404, c404, c404, c404, c401, c401}, "only GET is served: unknown endpoint"},

  // Notifications (admins). The broker has one webhook endpoint, `matrix`, whose receiver is
  // never up; delivery 1 is its request.created of the first request made here.
  {"GET", "/api/v1/notifications/endpoints", "", subject::none, false, view::none,
   {c403, c403, c403, c200, c401, c401}, "api.md Notifications: admins"},
  {"POST", "/api/v1/notifications/endpoints/matrix/test", "", subject::none, false, view::none,
   {c403, c403, c403, is(202), c401, c401}, "api.md Notifications: admins"},
  {"POST", "/api/v1/notifications/endpoints/matrix/enable", "", subject::none, false, view::none,
   {c403, c403, c403, c200, c401, c401}, "api.md Notifications: admins; enabling an enabled one changes nothing"},
  {"POST", "/api/v1/notifications/endpoints/nope/test", "", subject::none, false, view::none,
   {c403, c403, c403, c404, c401, c401}, "api.md Notifications: admins; 404 unknown endpoint"},
  {"GET", "/api/v1/notifications/deliveries", "", subject::none, false, view::none,
   {c403, c403, c403, c200, c401, c401}, "api.md Notifications: admins"},
  {"GET", "/api/v1/notifications/deliveries/1", "", subject::none, false, view::none,
   {c403, c403, c403, c200, c401, c401}, "api.md Notifications: admins"},
  {"POST", "/api/v1/notifications/deliveries/1/redeliver", "", subject::none, false, view::none,
   {c403, c403, c403, c200, c401, c401}, "api.md Notifications: admins"},
  {"POST", "/api/v1/notifications/deliveries/99999/redeliver", "", subject::none, false,
   view::none, {c403, c403, c403, c404, c401, c401}, "api.md Notifications: admins; 404 unknown id"},
  {"GET", "/api/v1/notifications/nothing", "", subject::none, false, view::none,
   {c404, c404, c404, c404, c401, c401}, "api.md: 404 unknown endpoint; /api/v1 needs a token"},

  // Unknown endpoints.
  {"GET", "/api/v1/nothing", "", subject::none, false, view::none,
   {c404, c404, c404, c404, c401, c401}, "api.md: 404 unknown endpoint; /api/v1 needs a token"},
  {"GET", "/oauth/nothing", "", subject::none, false, view::none,
   {c404, c404, c404, c404, c404, c404}, "api.md: 404 unknown endpoint"},
  {"GET", "/assets/nothing-00000000.js", "", subject::none, false, view::none,
   {c404, c404, c404, c404, c404, c404}, "api.md Web portal pages: a missing asset is 404, never the app"},
};
// clang-format on

const std::string redirect_uri = "http://127.0.0.1:53123/callback";

std::string pct(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

std::string replace_all(std::string s, std::string_view from, const std::string& to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
  return s;
}

// An answer as the client saw it.
struct answer {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string location;
  json::value json;  // null when the body is not JSON
};

// One HTTPS request on its own connection, trusting only the broker's CA. `bearer` empty: no
// Authorization header.
answer send(const broker_fixture& b, const std::string& method, const std::string& target,
            const std::string& body, const std::string& bearer) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!bearer.empty()) headers.emplace_back("Authorization", "Bearer " + bearer);
  if (!body.empty())
    headers.emplace_back("Content-Type", body.front() == '{' ? "application/json"
                                                             : "application/x-www-form-urlencoded");
  auto r = raw_https(b, method, target, headers, body);
  answer a;
  a.status = r.status;
  a.body = std::move(r.body);
  a.content_type = r.headers["content-type"];
  a.location = r.headers["location"];
  boost::system::error_code ec;
  auto v = json::parse(a.body, ec);
  if (!ec) a.json = std::move(v);
  return a;
}

// What a cell calls the endpoint on.
struct target_state {
  std::string id;          // AR-000NN
  std::int64_t after = 0;  // event feed position before it was created
  std::string code;        // auth_code: the login code
  std::string verifier;    // auth_code: its PKCE verifier
  std::string token;       // issued_token: the token the caller got
};

struct pkce {
  std::string verifier = apono::common::base64url(apono::common::random_bytes(32));
  std::string challenge = apono::common::base64url(apono::common::sha256(verifier));
  [[nodiscard]] std::string login_params() const {
    return "response_type=code&client_id=apono-cli&redirect_uri=" + pct(redirect_uri) +
           "&code_challenge=" + challenge + "&code_challenge_method=S256&state=matrix";
  }
};

class matrix_runner {
 public:
  matrix_runner(broker_fixture& b, std::string ssh_key) : b_(b), ssh_key_(std::move(ssh_key)) {}

  // The bearer token a caller sends (empty: none).
  std::string bearer(caller_kind k) const {
    if (k == no_token) return {};
    if (k == bad_token) return bad_token_;
    return b_.token(std::string(caller_users[k]));
  }

  // The current end of the event feed, as an admin sees it (admins see every event).
  std::int64_t feed_head() {
    std::int64_t after = 0;
    while (true) {
      auto a = send(b_, "GET", "/api/v1/events?timeout=0&after=" + std::to_string(after), "",
                    bearer(admin));
      REQUIRE(a.status == 200);
      if (a.json.at("events").as_array().empty()) return after;
      after = a.json.at("next_after").as_int64();
    }
  }

  std::string create(const std::string& body) {
    auto a = send(b_, "POST", "/api/v1/access-requests", body, bearer(requester));
    INFO(a.body);
    REQUIRE(a.status == 201);
    return std::string(a.json.at("id").as_string());
  }

  void wait_status(const std::string& id, const std::string& want) {
    INFO(id << " should become " << want);
    REQUIRE(wait_until(
        [&] {
          auto a = send(b_, "GET", "/api/v1/access-requests/" + id, "", bearer(admin));
          return a.status == 200 && a.json.at("status") == want.c_str();
        },
        10s));
  }

  // Logs `user` in through the browser form; returns the code and its verifier.
  std::pair<std::string, std::string> login_code(const std::string& user) {
    pkce p;
    auto a = send(
        b_, "POST", "/login",
        "username=" + user + "&password=" + pct(b_.password(user)) + "&" + p.login_params(), "");
    REQUIRE(a.status == 302);
    auto pos = a.location.find("code=");
    REQUIRE(pos != std::string::npos);
    auto code = a.location.substr(pos + 5);
    code = code.substr(0, code.find('&'));
    return {code, p.verifier};
  }

  target_state make(subject s, caller_kind k) {
    target_state t;
    const std::string read_write =
        R"({"integration":"pg-local","resources":["appdb"],"permissions":["read_write"],"duration":"1h","justification":"matrix"})";
    switch (s) {
      case subject::none:
        break;
      case subject::unknown:
        t.id = "AR-99999";
        break;
      case subject::pending:
        t.after = feed_head();
        t.id = create(read_write);
        break;
      case subject::active: {
        t.after = feed_head();
        t.id = create(read_write);
        auto a =
            send(b_, "POST", "/api/v1/access-requests/" + t.id + "/approve", "", bearer(approver));
        REQUIRE(a.status == 200);
        wait_status(t.id, "ACTIVE");
        break;
      }
      case subject::active_auto:
        t.after = feed_head();
        t.id = create(
            R"({"integration":"pg-local","resources":["appdb"],"permissions":["read_only"],"duration":"1h","justification":"matrix"})");
        wait_status(t.id, "ACTIVE");
        break;
      case subject::active_ssh:
        t.after = feed_head();
        t.id = create(
            R"({"integration":"ssh-local","resources":["local-sshd"],"permissions":["root"],"duration":"1h","justification":"matrix"})");
        wait_status(t.id, "ACTIVE");
        break;
      case subject::revoked: {
        t.after = feed_head();
        t.id = create(read_write);
        auto a =
            send(b_, "POST", "/api/v1/access-requests/" + t.id + "/revoke", "", bearer(requester));
        REQUIRE(a.status == 200);
        wait_status(t.id, "REVOKED");
        break;
      }
      case subject::auth_code:
        std::tie(t.code, t.verifier) = login_code("alice");
        break;
      case subject::issued_token:
        if (caller_users[k].empty()) break;
        {
          auto [code, verifier] = login_code(std::string(caller_users[k]));
          auto a = send(b_, "POST", "/oauth/token",
                        json::serialize(json::object{{"grant_type", "authorization_code"},
                                                     {"code", code},
                                                     {"code_verifier", verifier},
                                                     {"redirect_uri", redirect_uri},
                                                     {"client_id", "apono-cli"}}),
                        "");
          REQUIRE(a.status == 200);
          t.token = std::string(a.json.at("access_token").as_string());
        }
        break;
    }
    return t;
  }

  const target_state& shared(subject s) {
    auto it = shared_.find(s);
    if (it == shared_.end()) it = shared_.emplace(s, make(s, requester)).first;
    return it->second;
  }

  std::string fill(std::string_view text, const target_state& t) const {
    auto s = replace_all(std::string(text), "{id}", t.id);
    s = replace_all(s, "{after}", std::to_string(t.after));
    s = replace_all(s, "{code}", t.code);
    s = replace_all(s, "{verifier}", t.verifier);
    s = replace_all(s, "{login}", pkce().login_params());
    s = replace_all(s, "{password}", pct(b_.password("alice")));
    s = replace_all(s, "{ssh_key}", ssh_key_);
    return s;
  }

  // Whether the answer shows the subject, in the row's sense.
  bool shows(const row& r, const answer& a, const target_state& t, caller_kind k) {
    auto array_has = [&](const char* key, std::string_view value) {
      if (!a.json.is_array()) return false;
      for (const auto& e : a.json.get_array())
        if (e.is_object() && e.get_object().contains(key) && e.at(key).is_string() &&
            std::string_view(e.at(key).get_string()) == value)
          return true;
      return false;
    };
    switch (r.check) {
      case view::none:
        return false;
      case view::lists_request:
        return array_has("id", t.id);
      case view::has_event: {
        if (!a.json.is_object()) return false;
        for (const auto& e : a.json.at("events").as_array())
          if (e.at("request_id") == t.id.c_str()) return true;
        return false;
      }
      case view::has_audit:
        return array_has("request_id", t.id);
      case view::lists_pg:
        return array_has("id", "pg-local");
      case view::lists_appdb:
        return array_has("id", "appdb");
      case view::lists_perm:
        return array_has("id", "read_write");
      case view::lists_bundle:
        return array_has("id", "all-databases-read-only");
      case view::is_self: {
        const auto user = std::string(caller_users[k]);
        return a.json.is_object() && a.json.at("user") == user.c_str() &&
               a.json.at("admin").as_bool() == (k == admin) &&
               a.json.at("approver").as_bool() == (k == approver);
      }
      case view::token_dead:
        return send(b_, "GET", "/api/v1/session", "", t.token).status == 401 &&
               send(b_, "GET", "/api/v1/session", "", bearer(k)).status == 200;
      case view::ca_key:
        return a.body.rfind("ssh-ed25519 ", 0) == 0 &&
               a.body.find("apono-user-ca") != std::string::npos;
      case view::metrics:
        return a.body.find("# TYPE apono_http_requests_total counter") != std::string::npos;
      case view::login_form:
        return a.content_type.rfind("text/html", 0) == 0 &&
               a.body.find("<form method=\"post\" action=\"/login\">") != std::string::npos;
      case view::code_redirect:
        return a.location.rfind(redirect_uri + "?code=", 0) == 0;
      case view::token:
        return a.json.is_object() && a.json.at("user") == "alice" &&
               std::string_view(a.json.at("access_token").as_string()).starts_with("apn_");
      case view::json_ok:
        return a.json.is_object() && a.json.get_object().contains("status");
    }
    return false;
  }

  // Runs one cell; returns what happened, for the Markdown table.
  cell run(const row& r, caller_kind k) {
    target_state fresh_state;
    const target_state* t = nullptr;
    if (r.on == subject::none) {
      t = &fresh_state;
    } else if (r.fresh) {
      fresh_state = make(r.on, k);
      t = &fresh_state;
    } else {
      t = &shared(r.on);
    }
    auto token = t->token.empty() ? bearer(k) : t->token;
    auto target = fill(r.target, *t);
    auto a = send(b_, std::string(r.method), target, fill(r.body, *t), token);
    cell got{a.status, -1};
    const auto& want = r.expect[k];
    if (want.shown >= 0 && a.status == want.status) got.shown = shows(r, a, *t, k) ? 1 : 0;
    {
      INFO(r.method << " " << target << " as " << caller_titles[k] << " (" << r.why << ")\n"
                    << a.status << " " << a.body.substr(0, 400));
      CHECK(a.status == want.status);
      if (want.shown >= 0) CHECK(got.shown == want.shown);
      // Every JSON error has the documented shape.
      if (a.status >= 400 && a.content_type == "application/json") {
        REQUIRE(a.json.is_object());
        CHECK(a.json.at("error").at("code").is_string());
        CHECK(a.json.at("error").at("message").is_string());
      }
    }
    return got;
  }

 private:
  broker_fixture& b_;
  std::string ssh_key_;
  std::string bad_token_ = apono::common::random_token();
  std::map<subject, target_state> shared_;
};

std::string cell_text(const cell& c) {
  std::string s = std::to_string(c.status);
  if (c.shown == 1) s += " yes";
  if (c.shown == 0) s += " no";
  return s;
}

std::string subject_text(subject s) {
  switch (s) {
    case subject::none:
      return "";
    case subject::pending:
      return "alice's PENDING request (manual flow)";
    case subject::active:
      return "alice's ACTIVE request (manual flow)";
    case subject::active_auto:
      return "alice's ACTIVE request (automatic flow)";
    case subject::active_ssh:
      return "alice's ACTIVE ssh request (automatic flow)";
    case subject::revoked:
      return "alice's REVOKED request";
    case subject::unknown:
      return "unknown id";
    case subject::auth_code:
      return "alice's login code";
    case subject::issued_token:
      return "the caller's login token";
  }
  return "";
}

std::string markdown(const std::vector<std::array<cell, caller_count>>& got) {
  std::ostringstream out;
  out << "| endpoint | case | yes/no means |";
  for (auto t : caller_titles) out << " " << t << " |";
  out << " rule |\n|---|---|---|";
  for (std::size_t i = 0; i <= caller_count; ++i) out << "---|";
  out << "\n";
  for (std::size_t i = 0; i < matrix.size(); ++i) {
    const auto& r = matrix[i];
    std::string endpoint = std::string(r.method) + " " + std::string(r.target);
    endpoint = replace_all(endpoint, "|", "\\|");
    auto what = subject_text(r.on);
    if (!what.empty() && !r.note.empty()) what += ", ";
    what += r.note;
    out << "| `" << endpoint << "` | " << what << " | "
        << view_titles[static_cast<std::size_t>(r.check)] << " |";
    for (std::size_t k = 0; k < caller_count; ++k) {
      const auto& want = r.expect[k];
      const auto& g = got[i][k];
      if (g.status == want.status && (want.shown < 0 || g.shown == want.shown))
        out << " " << cell_text(want) << " |";
      else
        out << " **expected " << cell_text(want) << ", got " << cell_text(g) << "** |";
    }
    out << " " << r.why << " |\n";
  }
  return out.str();
}

// A fresh Ed25519 public key line from ssh-keygen.
std::string new_ssh_key(const std::filesystem::path& dir, const std::string& name) {
  auto path = dir / name;
  auto res = run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path.string()});
  INFO(res.output);
  REQUIRE(res.status == 0);
  auto line = apono::common::read_file(path.string() + ".pub");
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

}  // namespace

TEST_CASE("authorization matrix: every endpoint x every kind of caller", "[authz]") {
  temp_dir keys("authz-keys");
  const auto host_key = new_ssh_key(keys.path, "host");
  const auto client_key = new_ssh_key(keys.path, "client");
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  // An ssh integration (never dialled: certificates are signed without reaching the host), and
  // a webhook endpoint whose receiver is never up (its deliveries just wait for their retry).
  apono::common::write_private_file(
      keys.path / "extra.yaml",
      "notifications:\n  webhooks:\n    - name: matrix\n      url: http://127.0.0.1:9/hook\n"
      "      secrets: [whsec_" +
          apono::common::base64(std::string(32, 'm')) + "]\n      events: [request.created]\n");
  broker_fixture b(pg, {"--ssh-target", "127.0.0.1:1", "--ssh-host-key", host_key, "--dev-extra",
                        (keys.path / "extra.yaml").string()});

  matrix_runner m(b, client_key);
  std::vector<std::array<cell, caller_count>> got(matrix.size());
  std::size_t cells = 0;
  for (std::size_t i = 0; i < matrix.size(); ++i)
    for (std::size_t k = 0; k < caller_count; ++k) {
      got[i][k] = m.run(matrix[i], static_cast<caller_kind>(k));
      ++cells;
    }

  auto md = markdown(got);
  if (const char* path = std::getenv("APONO_AUTHZ_MATRIX_MD"); path && *path) {
    std::ofstream(path) << md;
  }
  std::printf("authorization matrix: %zu endpoints x %zu callers = %zu cells checked\n",
              matrix.size(), caller_count, cells);

  CHECK(b.process().running());
  auto metrics = send(b, "GET", "/metrics", "", "");
  CHECK(metrics.body.find("apono_http_requests_total{class=\"5xx\"} 0") != std::string::npos);
  // No handler failed along the way.
  auto log = b.log();
  CHECK(log.find("internal error") == std::string::npos);
}
