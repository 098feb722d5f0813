// libFuzzer target for the HTTP API: runs the real router, lifecycle service, scheduler and
// SQLite store (fresh for every input) on a config like `aponod --dev`'s with postgresql, ssh,
// aws and kubernetes integrations, whose provisioners are fakes that always succeed, so grants
// become ACTIVE and every handler can be reached; no target is contacted.
//
// An input is up to 12 requests separated by a line `%%`. Each request is
//   METHOD TARGET            e.g. `POST /api/v1/access-requests?x=1`
//   AUTHORIZATION            a dev user's name (admin, approver, alice, bob) for their bearer
//                            token; `portal:USER` for the user's browser session cookie sent
//                            from the portal's own page (X-Apono-CSRF and a same-origin
//                            Origin), `cookie:USER` for the cookie alone, as another site's
//                            page would send it; anything else verbatim as the header (empty:
//                            none)
//   CONTENT-TYPE
//   BODY                     the rest, line breaks included
// or the line `TICK MINUTES`, which moves the clock on (grants expire) and runs due work.
// After every request the scheduler runs due work, as it would in the broker.
//
// Besides crashes and sanitizer reports, each response is checked: no 5xx (nothing here is
// unavailable and nothing may be internal), every 4xx is `{"error":{"code","message"}}` JSON
// with a known code matching the status (the HTML login pages and the portal's pages
// excepted, as documented), JSON answers parse, no dev user's token or session secret appears
// in a response unless the request carried it outside its Authorization header, and a
// state-changing call authorized by a cookie alone (another site's) never succeeds.
// APONO_FUZZ_TRACE=1 in the environment prints every answer.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/api/router.hpp"
#include "broker/config.hpp"
#include "broker/config_holder.hpp"
#include "broker/event_hub.hpp"
#include "broker/metrics.hpp"
#include "broker/portal/assets.hpp"
#include "broker/provision/provisioner.hpp"
#include "broker/scheduler.hpp"
#include "broker/service.hpp"
#include "broker/ssh/user_ca.hpp"
#include "broker/store/sqlite_store.hpp"
#include "common/error.hpp"
#include "common/secrets.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
namespace net = boost::asio;
namespace broker = apono::broker;
namespace common = apono::common;

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "api_json_fuzz: %s\n%.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

void check(bool ok, const char* what, std::string_view detail = {}) {
  if (!ok) fail(what, detail);
}

constexpr const char* dev_users[] = {"admin", "approver", "alice", "bob"};

// Bearer tokens as `aponod --dev` makes them: fixed here, so inputs can name them by user.
std::string token_of(std::string_view user) {
  return "apn_fuzz-" + std::string(user) + "-0123456789abcdefghijklmnopqrstuv";
}

// Each dev user's browser session secret (43 base64url characters, as the broker makes them),
// stored in the template database so inputs can use it by user.
std::string session_of(std::string_view user) {
  auto s = "fuzzsession-" + std::string(user) + "-";
  s.resize(43, 'x');
  return s;
}

constexpr std::string_view portal_host = "broker.test:8443";

// The portal's files: a page and a script are enough to reach every branch of serving them.
constexpr unsigned char index_html[] = {'<', 'h', 't', 'm', 'l', '>'};
constexpr unsigned char app_js[] = {'/', '/', ' ', 'a', 'p', 'p'};
const broker::portal::asset portal_files[] = {{"/index.html", index_html, {}},
                                              {"/assets/app-0123abcd.js", app_js, {}}};

// What `aponod --dev --ssh-target ...` writes, without password hashes (any login attempt
// would cost a PBKDF2 run, for every input that reaches one) and with the cloud integrations
// of docs/configuration.md pointed at a port where nothing listens.
std::string dev_config() {
  std::string users;
  for (const char* u : dev_users)
    users += std::string("  - name: ") + u + "\n    email: " + u +
             "@example.com\n    admin: " + (std::string_view(u) == "admin" ? "true" : "false") +
             "\n    token_sha256: [" + common::sha256_hex(token_of(u)) + "]\n";
  return "server:\n  listen: 127.0.0.1:0\n  data_dir: /nonexistent/apono-fuzz\nusers:\n" + users +
         R"(groups:
  - name: engineers
    members: [alice, bob]
  - name: approvers
    members: [approver]
integrations:
  - id: pg-local
    name: Local PostgreSQL
    type: postgresql
    admin_url: "postgresql://postgres@127.0.0.1:1/postgres"
    host: 127.0.0.1
    port: 5432
    sslmode: prefer
    resources: [appdb, postgres]
    permissions: {read_only: default, read_write: default, admin: default}
  - id: ssh-local
    name: Local SSH
    type: ssh
    resources:
      - name: local-sshd
        address: 127.0.0.1
        port: 2222
        host_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl
    permissions:
      - {name: root, principal: apono-root}
      - {name: deploy, extensions: [permit-pty]}
  - id: aws-prod
    type: aws
    sts_endpoint: https://127.0.0.1:1
    iam_endpoint: https://127.0.0.1:1
    access_key_id: AKIAFUZZFUZZFUZZFUZZ
    secret_access_key: fuzz-secret-access-key
    resources: ["123456789012"]
    permissions:
      - {name: read-only, role_arn: "arn:aws:iam::{account}:role/ReadOnly", max_session: 1h}
  - id: k8s-prod
    type: kubernetes
    server: https://127.0.0.1:1
    token: fuzz-kubernetes-token
    resources: [team-a]
    permissions: [view, {name: edit, cluster_role: edit}]
access_flows:
  - name: engineers-ssh
    requestors: {groups: [engineers]}
    targets: [{integration: ssh-local, resources: ["*"], permissions: ["*"]}]
    approval: automatic
    max_duration: 8h
    default_duration: 1h
  - name: engineers-read-only
    requestors: {groups: [engineers]}
    targets: [{integration: pg-local, resources: ["*"], permissions: [read_only]}]
    approval: automatic
    max_duration: 8h
    default_duration: 1h
  - name: engineers-write
    requestors: {groups: [engineers]}
    targets: [{integration: pg-local, resources: ["*"], permissions: [read_write, admin]}]
    approval: manual
    approvers: {groups: [approvers]}
    max_duration: 4h
    default_duration: 1h
  - name: engineers-cloud
    requestors: {users: [alice], groups: [engineers]}
    targets:
      - {integration: aws-prod, resources: ["*"], permissions: ["*"]}
      - {integration: k8s-prod, resources: ["*"], permissions: ["*"]}
    approval: automatic
    max_duration: 2h
    default_duration: 30m
    justification_required: false
bundles:
  - name: all-databases-read-only
    targets: [{integration: pg-local, resources: [appdb, postgres], permissions: [read_only]}]
)";
}

// A target that always does what it is asked: the API's answers then never depend on one
// being reachable, and grants become ACTIVE.
class fake_provisioner final : public broker::provisioner {
 public:
  void grant(const broker::provision_unit&) override {}
  void revoke(const broker::provision_unit&) override {}
  void reset(const broker::provision_unit&) override {}
  void check(const broker::integration_config&) override {}
  broker::issued_credentials issue(const broker::provision_unit& u,
                                   common::time_point until) override {
    return {"FAKEKEY" + u.login, "fake-secret", "", until, "fake:" + u.login};
  }
};

// A crash (the point of fuzzing) skips the atexit cleanup, so each process names its dir
// after itself and removes those of processes that are gone.
void remove_dead_dirs(const fs::path& base) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(base, ec)) {
    const std::string name = entry.path().filename().string();
    constexpr std::string_view prefix = "api_json_fuzz.";
    if (!name.starts_with(prefix)) continue;
    pid_t pid = 0;
    const char* digits = name.c_str() + prefix.size();
    const auto [end, err] = std::from_chars(digits, name.c_str() + name.size(), pid);
    if (err != std::errc{} || *end != '.' || pid <= 0) continue;
    if (::kill(pid, 0) == -1 && errno == ESRCH) fs::remove_all(entry.path(), ec);
  }
}

// What lives as long as the process: the config, the CA and an empty migrated database that
// each input starts from.
struct fixture {
  fs::path dir;
  std::shared_ptr<const broker::config> cfg;
  std::optional<broker::ssh::user_ca> ca;
  std::vector<std::string> tokens;
};

const fixture& the_fixture() {
  static const fixture f = [] {
    // Errors only: the service logs every grant at info, which would drown the fuzzer's output.
    spdlog::set_level(spdlog::level::err);
    fixture s;
    const fs::path base = fs::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    remove_dead_dirs(base);
    std::string dir_template =
        (base / ("api_json_fuzz." + std::to_string(::getpid()) + ".XXXXXX")).string();
    check(::mkdtemp(dir_template.data()) != nullptr, "cannot make a temp dir");
    s.dir = dir_template;
    s.cfg = broker::parse_config(dev_config(), "/nonexistent/apono-fuzz/aponod.yaml");
    s.ca.emplace(broker::ssh::user_ca::load_or_create(s.dir / "ssh_user_ca.pem"));
    {
      broker::sqlite_store migrated(s.dir / "template.db");
      // Sessions as sign-ins leave them. The router reads the wall clock, not the inputs'
      // manual one, so they are dated a year ahead: a fuzzing run of hours never finds them
      // idle, and an input's sign-out still ends one.
      const auto t = common::system_clock().now() + std::chrono::hours{24 * 365};
      migrated.transact([&](broker::store_tx& tx) {
        for (const char* u : dev_users)
          tx.insert_browser_session(common::sha256_hex(session_of(u)), u, t,
                                    t + std::chrono::hours{12}, t - std::chrono::hours{1});
      });
    }
    for (const char* u : dev_users) {
      s.tokens.push_back(token_of(u));
      s.tokens.push_back(session_of(u));
    }
    // A plain array: it outlives every static object's destructor, when atexit handlers that
    // were registered during this initialization run.
    static char dir_to_remove[128];
    std::snprintf(dir_to_remove, sizeof dir_to_remove, "%s", s.dir.c_str());
    std::atexit([] { fs::remove_all(dir_to_remove); });
    return s;
  }();
  return f;
}

struct request_text {
  bool tick = false;
  std::int64_t minutes = 0;
  broker::http::request req;
  bool cross_site = false;  // a session cookie without what the portal's pages add
};

std::string_view next_line(std::string_view& s) {
  const auto end = s.find('\n');
  auto line = s.substr(0, end);
  s.remove_prefix(end == std::string_view::npos ? s.size() : end + 1);
  return line;
}

request_text parse_request(std::string_view block) {
  request_text out;
  const auto first = next_line(block);
  if (first.starts_with("TICK ")) {
    out.tick = true;
    auto digits = first.substr(5);
    std::from_chars(digits.data(), digits.data() + digits.size(), out.minutes);
    out.minutes = std::clamp<std::int64_t>(out.minutes, 0, 60 * 24 * 400);
    return out;
  }
  auto& r = out.req;
  const auto space = first.find(' ');
  r.method = std::string(first.substr(0, space));
  r.target = space == std::string_view::npos ? "" : std::string(first.substr(space + 1));
  const auto auth = next_line(block);
  r.authorization = std::string(auth);
  r.headers.emplace_back("host", std::string(portal_host));
  for (const char* u : dev_users) {
    if (auth == u) r.authorization = "Bearer " + token_of(u);
    for (std::string_view how : {"portal:", "cookie:"}) {
      if (auth != std::string(how) + u) continue;
      r.authorization.clear();
      r.headers.emplace_back("cookie", "__Host-apono_session=" + session_of(u));
      if (how == "portal:") {
        r.headers.emplace_back("x-apono-csrf", "1");
        r.headers.emplace_back("origin", "https://" + std::string(portal_host));
      } else {
        out.cross_site = true;
      }
    }
  }
  r.content_type = std::string(next_line(block));
  r.body = std::string(block);
  r.remote = "127.0.0.1:40000";
  if (!r.authorization.empty()) r.headers.emplace_back("authorization", r.authorization);
  if (!r.content_type.empty()) r.headers.emplace_back("content-type", r.content_type);
  return out;
}

std::vector<request_text> parse_input(std::string_view text) {
  std::vector<request_text> out;
  while (out.size() < 12) {
    const auto sep = text.find("\n%%\n");
    out.push_back(parse_request(text.substr(0, sep)));
    if (sep == std::string_view::npos) break;
    text.remove_prefix(sep + 4);
  }
  return out;
}

bool is_login_page(const broker::http::request& req) {
  auto target = boost::urls::parse_origin_form(req.target);
  return target && target->path() == "/login";
}

// A page of the portal: the app's index.html for any path that is not the API's.
bool is_portal_page(const broker::http::request& req) {
  auto target = boost::urls::parse_origin_form(req.target);
  return target && broker::portal::is_portal_path(target->path());
}

void check_response(const broker::http::request& req, const broker::http::response& res,
                    const std::vector<std::string>& tokens) {
  const std::string what = req.method + " " + req.target.substr(0, 300) + " -> " +
                           std::to_string(res.status) + " " + res.content_type + "\n" +
                           res.body.substr(0, 2000);
  check(res.status >= 200 && res.status < 500, "status outside 2xx-4xx", what);
  for (const auto& t : tokens) {
    // Echoing what the request itself carried outside its Authorization header is fine.
    const bool sent =
        (req.method + req.target + req.content_type + req.body).find(t) != std::string::npos;
    if (sent) continue;
    check(res.body.find(t) == std::string::npos, "a bearer token in a response body", what);
    for (const auto& [name, value] : res.headers)
      check(value.find(t) == std::string::npos, "a bearer token in a response header", what);
  }
  const bool html = res.content_type.starts_with("text/html");
  if (html) {
    check(is_login_page(req) || is_portal_page(req), "HTML from an API endpoint", what);
    return;
  }
  if (res.content_type != "application/json") {
    check(res.status < 400, "an error that is not JSON", what);
    return;
  }
  boost::system::error_code ec;
  const json::value v = json::parse(res.body, ec);
  check(!ec, "response body is not valid JSON", what);
  if (res.status < 400) return;
  const auto* o = v.if_object();
  check(o && o->size() == 1 && o->contains("error"), "error body is not {\"error\":...}", what);
  const auto* e = o->at("error").if_object();
  check(e && e->size() == 2, "error object is not {code, message}", what);
  const auto* code = e->if_contains("code");
  const auto* message = e->if_contains("message");
  check(code && code->is_string() && message && message->is_string(),
        "error code and message are not strings", what);
  const auto kind = common::code_from_name(code->get_string());
  check(common::code_name(kind) == code->get_string() && kind != common::errc::internal,
        "unknown error code", what);
  check(common::http_status(kind) == res.status, "error code does not match the status", what);
  check(!message->get_string().empty(), "empty error message", what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fixture& fx = the_fixture();
  // APONO_FUZZ_TRACE=1 prints each request's answer, to see what a seed reaches.
  static const bool trace = std::getenv("APONO_FUZZ_TRACE") != nullptr;
  const auto requests = parse_input(std::string_view(reinterpret_cast<const char*>(data), size));

  // A fresh store per input, so each run is the same whatever ran before it.
  const fs::path db = fx.dir / "run.db";
  for (const char* suffix : {"-wal", "-shm"}) fs::remove(db.string() + suffix);
  fs::copy_file(fx.dir / "template.db", db, fs::copy_options::overwrite_existing);

  broker::config_holder holder(fx.cfg);
  broker::metrics stats;
  broker::event_hub hub;
  common::manual_clock clock(common::from_unix_ms(1'800'000'000'000));
  fake_provisioner prov;
  broker::sqlite_store st(db);
  broker::service svc(
      st, holder, {{"postgresql", &prov}, {"ssh", &prov}, {"aws", &prov}, {"kubernetes", &prov}},
      clock, stats, {}, [&hub] { hub.notify(); });
  svc.set_ssh_ca(&*fx.ca);
  broker::scheduler sched(st, svc, clock, 1);
  broker::api::router routes(holder, svc, st, stats, hub, [] { return true; });
  routes.set_ssh_ca(&*fx.ca);
  routes.set_max_poll(std::chrono::milliseconds{0});
  routes.set_portal_assets(portal_files);

  net::io_context ioc;
  for (const auto& r : requests) {
    if (r.tick) {
      clock.advance(std::chrono::minutes{r.minutes});
      sched.run_once();
      continue;
    }
    std::optional<broker::http::response> res;
    net::co_spawn(ioc, routes.handle(r.req), [&](std::exception_ptr e, broker::http::response out) {
      if (e) fail("router::handle threw", r.req.target);
      res = std::move(out);
    });
    ioc.restart();
    ioc.run();
    check(res.has_value(), "router::handle did not finish", r.req.target);
    if (trace)
      std::fprintf(stderr, "%s %s -> %d %s\n", r.req.method.c_str(), r.req.target.c_str(),
                   res->status, res->body.substr(0, 300).c_str());
    check_response(r.req, *res, fx.tokens);
    // Another site's page can make the browser send the cookie, and nothing else.
    if (r.cross_site && r.req.method != "GET" && r.req.method != "HEAD" &&
        r.req.method != "OPTIONS")
      check(res->status >= 300, "a cross-site call with the session cookie succeeded",
            r.req.method + " " + r.req.target.substr(0, 300));
    sched.run_once();
  }
  return 0;
}
