// The Kubernetes provisioner against the API fixture: what grant creates and refuses to adopt,
// token lifetimes, what an issued token can and cannot do, that revoke and reset kill earlier
// tokens, that no token reaches an error message, and the real kubectl using an issued token.
#include "broker/provision/kubernetes_provisioner.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <fstream>
#include <functional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "common/http_client.hpp"
#include "common/time.hpp"
#include "tests/support/cloud/kube_fixture.hpp"
#include "tests/support/process.hpp"

namespace {

using apono::broker::integration_config;
using apono::broker::issued_credentials;
using apono::broker::kubernetes_provisioner;
using apono::broker::provision_error;
using apono::broker::provision_unit;
using apono::test::kube_fixture;
using apono::test::kube_fixture_options;
using namespace std::chrono_literals;
namespace json = boost::json;

apono::common::time_point wall_now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

/// One fixture cluster, an integration pointing at it with the broker's token, and a
/// provisioner whose clock starts at the real time (so token lifetimes can be checked to the
/// second while the fixture still judges expiry by the real clock).
struct env {
  kube_fixture kube;
  integration_config integration;
  apono::common::manual_clock clock{wall_now()};
  kubernetes_provisioner provisioner{clock};

  explicit env(kube_fixture_options options = {}) : kube(std::move(options)) {
    integration.id = "k8s-local";
    integration.name = "local cluster";
    integration.type = "kubernetes";
    integration.resource_type = "namespace";
    integration.endpoint = kube.url();
    integration.ca_file = kube.ca_file();
    integration.token = kube.admin_token();
    integration.resources = {{"team-a"}, {"team-b"}};
    apono::broker::permission_config view{"view"};
    view.cluster_role = "view";
    apono::broker::permission_config none{"none"};
    none.cluster_role = "nothing";
    integration.permissions = {view, none};
  }

  provision_unit unit(const std::string& permission = "view", const std::string& ns = "team-a") {
    provision_unit u;
    u.integration = &integration;
    u.request_id = "AR-00012";
    u.requester = "alice";
    u.resource = ns;
    u.permission = permission;
    u.login = kubernetes_provisioner::make_name(12);
    u.valid_until = clock.now() + 1h;
    return u;
  }

  /// GET `target` with `token` as the bearer.
  apono::common::http_result get(const std::string& token, const std::string& target) {
    apono::common::http_client_options o;
    o.base_url = kube.url();
    o.ca_file = kube.ca_file();
    o.bearer_token = token;
    o.timeout = 10s;
    apono::common::http_client client(o);
    return client.request("GET", target);
  }

  apono::common::http_result list_pods(const std::string& token, const std::string& ns = "team-a") {
    return get(token, "/api/v1/namespaces/" + ns + "/pods");
  }

  /// A call as the cluster admin, e.g. to make objects apono did not create.
  apono::common::http_result admin(const std::string& method, const std::string& target,
                                   const std::string& body = {}) {
    apono::common::http_client_options o;
    o.base_url = kube.url();
    o.ca_file = kube.ca_file();
    o.bearer_token = kube.admin_token();
    apono::common::http_client client(o);
    return client.request(method, target, body);
  }
};

/// The `reason` of a Status body, or "" when the body is not one.
std::string status_reason(const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  const auto& o = v.as_object();
  if (!o.contains("kind") || o.at("kind") != "Status" || !o.contains("reason")) return {};
  return std::string(o.at("reason").as_string());
}

std::vector<std::string> pod_names(const std::string& body) {
  std::vector<std::string> out;
  auto v = json::parse(body);
  for (const auto& item : v.at("items").as_array())
    out.emplace_back(item.at("metadata").at("name").as_string());
  return out;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const provision_error& e) {
    return e.what();
  }
  FAIL("expected a provision_error");
  return {};
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("make_name: apono-ar<N>- and six random lower-case characters", "[kubernetes]") {
  const auto a = kubernetes_provisioner::make_name(12);
  const auto b = kubernetes_provisioner::make_name(12);
  CHECK(std::regex_match(a, std::regex("apono-ar12-[a-z0-9]{6}")));
  CHECK(a != b);
  CHECK(std::regex_match(kubernetes_provisioner::make_name(123456),
                         std::regex("apono-ar123456-[a-z0-9]{6}")));
}

TEST_CASE("check accepts the broker's token and names the endpoint when it is refused",
          "[kubernetes]") {
  env e;
  REQUIRE_NOTHROW(e.provisioner.check(e.integration));

  auto wrong = e.integration;
  wrong.token = "wrong-broker-token-5b1d";
  const auto msg = error_of([&] { e.provisioner.check(wrong); });
  INFO(msg);
  CHECK(contains(msg, e.kube.url()));
  CHECK(contains(msg, "401"));
  CHECK(contains(msg, "Unauthorized"));
  CHECK_FALSE(contains(msg, wrong.token));

  auto no_token = e.integration;
  no_token.token.clear();
  CHECK(contains(error_of([&] { e.provisioner.check(no_token); }), "token"));

  auto no_endpoint = e.integration;
  no_endpoint.endpoint.clear();
  CHECK(contains(error_of([&] { e.provisioner.check(no_endpoint); }), "endpoint"));

  auto bad_role = e.integration;
  bad_role.permissions[0].cluster_role = "";
  CHECK(contains(error_of([&] { e.provisioner.check(bad_role); }), "cluster_role"));
  bad_role.permissions[0].cluster_role = "view/../../secrets";
  CHECK(contains(error_of([&] { e.provisioner.check(bad_role); }), "cluster_role"));

  // Accepted by the API and useless, so check finds it before a user does.
  auto typo = e.integration;
  typo.permissions[0].cluster_role = "veiw";
  const auto typo_msg = error_of([&] { e.provisioner.check(typo); });
  INFO(typo_msg);
  CHECK(contains(typo_msg, "ClusterRole 'veiw'"));
  CHECK(contains(typo_msg, "does not exist"));
}

TEST_CASE("check reports an API server that cannot be reached or verified", "[kubernetes]") {
  env e;
  auto closed = e.integration;
  closed.endpoint = "https://127.0.0.1:" + std::to_string(apono::test::free_port());
  const auto msg = error_of([&] { e.provisioner.check(closed); });
  INFO(msg);
  CHECK(contains(msg, closed.endpoint));
  CHECK_FALSE(contains(msg, closed.token));

  // Another fixture's CA does not vouch for this server.
  kube_fixture other;
  auto wrong_ca = e.integration;
  wrong_ca.ca_file = other.ca_file();
  const auto tls_msg = error_of([&] { e.provisioner.check(wrong_ca); });
  INFO(tls_msg);
  CHECK(contains(tls_msg, "TLS verification failed"));
}

TEST_CASE("grant creates a labelled service account and a binding to the ClusterRole",
          "[kubernetes]") {
  env e;
  auto u = e.unit();
  e.provisioner.grant(u);

  auto sa = e.kube.find_service_account("team-a", u.login);
  REQUIRE(sa);
  CHECK(sa->labels["app.kubernetes.io/managed-by"] == "apono");
  CHECK(sa->labels["apono.dev/request"] == "AR-00012");
  CHECK(sa->annotations["apono.dev/requester"] == "alice");
  CHECK_FALSE(sa->uid.empty());

  auto rb = e.kube.find_role_binding("team-a", u.login);
  REQUIRE(rb);
  CHECK(rb->labels["app.kubernetes.io/managed-by"] == "apono");
  CHECK(rb->role_kind == "ClusterRole");
  CHECK(rb->role_name == "view");
  REQUIRE(rb->subjects.size() == 1);
  CHECK(rb->subjects[0].kind == "ServiceAccount");
  CHECK(rb->subjects[0].name == u.login);
  CHECK(rb->subjects[0].ns == "team-a");

  // The broker authenticated as itself for every call.
  for (const auto& r : e.kube.requests()) CHECK(r.token == kube_fixture::token_kind::admin);

  e.provisioner.revoke(u);
}

TEST_CASE("grant twice is idempotent and keeps the same service account", "[kubernetes]") {
  env e;
  auto u = e.unit();
  e.provisioner.grant(u);
  const auto uid = e.kube.find_service_account("team-a", u.login)->uid;
  REQUIRE_NOTHROW(e.provisioner.grant(u));
  CHECK(e.kube.find_service_account("team-a", u.login)->uid == uid);
  CHECK(e.kube.service_accounts().size() == 1);
  CHECK(e.kube.role_bindings().size() == 1);

  // A grant that stopped after the service account is completed by the retry.
  auto half = e.unit();
  e.provisioner.grant(half);
  REQUIRE(e.admin("DELETE",
                  "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings/" + half.login)
              .status == 200);
  REQUIRE_FALSE(e.kube.find_role_binding("team-a", half.login));
  e.provisioner.grant(half);
  CHECK(e.kube.find_role_binding("team-a", half.login));

  e.provisioner.revoke(u);
  e.provisioner.revoke(half);
  CHECK(e.kube.service_accounts().empty());
  CHECK(e.kube.role_bindings().empty());
}

TEST_CASE("grant refuses a service account or binding apono did not create", "[kubernetes]") {
  env e;
  auto u = e.unit();
  const json::value foreign = {
      {"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", u.login}}}};
  REQUIRE(e.admin("POST", "/api/v1/namespaces/team-a/serviceaccounts", json::serialize(foreign))
              .status == 201);
  const auto uid = e.kube.find_service_account("team-a", u.login)->uid;

  const auto msg = error_of([&] { e.provisioner.grant(u); });
  INFO(msg);
  CHECK(contains(msg, "team-a/" + u.login));
  CHECK(contains(msg, "not created by apono"));
  CHECK_FALSE(e.kube.find_role_binding("team-a", u.login));
  CHECK_THROWS_AS(e.provisioner.issue(u, e.clock.now() + 1h), provision_error);
  CHECK(e.kube.issued_tokens().empty());
  CHECK_THROWS_AS(e.provisioner.reset(u), provision_error);

  // Revoke removes only what is apono's: the foreign account stays as it was.
  REQUIRE_NOTHROW(e.provisioner.revoke(u));
  auto still = e.kube.find_service_account("team-a", u.login);
  REQUIRE(still);
  CHECK(still->uid == uid);

  // The same for a binding of that name made by someone else.
  auto v = e.unit();
  const json::value binding = {
      {"apiVersion", "rbac.authorization.k8s.io/v1"},
      {"kind", "RoleBinding"},
      {"metadata", {{"name", v.login}}},
      {"roleRef",
       {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", "edit"}}},
      {"subjects", json::array{json::object{{"kind", "User"}, {"name", "bob"}}}}};
  REQUIRE(e.admin("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings",
                  json::serialize(binding))
              .status == 201);
  CHECK(contains(error_of([&] { e.provisioner.grant(v); }), "not created by apono"));
  REQUIRE_NOTHROW(e.provisioner.revoke(v));
  auto rb = e.kube.find_role_binding("team-a", v.login);
  REQUIRE(rb);
  CHECK(rb->role_name == "edit");
  CHECK_FALSE(e.kube.find_service_account("team-a", v.login));
}

TEST_CASE("grant reports the API's message for a namespace that does not exist", "[kubernetes]") {
  env e;
  auto u = e.unit("view", "team-z");
  const auto msg = error_of([&] { e.provisioner.grant(u); });
  INFO(msg);
  CHECK(contains(msg, "404 NotFound: namespaces \"team-z\" not found"));

  auto bad = e.unit();
  bad.login = "Apono_AR12";  // not a DNS label: never put into a URL
  CHECK(contains(error_of([&] { e.provisioner.grant(bad); }), "DNS label"));
  auto unknown = e.unit("admin");
  CHECK(contains(error_of([&] { e.provisioner.grant(unknown); }), "unknown permission"));
  CHECK(e.kube.service_accounts().empty());
}

TEST_CASE("issue: a token for the time left, at least the API's 600 s, that lists pods",
          "[kubernetes]") {
  env e;
  auto u = e.unit();
  e.provisioner.grant(u);

  // Two hours and a fraction of a second left: rounded up, never short of the grant.
  const auto creds = e.provisioner.issue(u, e.clock.now() + 2h + 300ms);
  auto tokens = e.kube.issued_tokens();
  REQUIRE(tokens.size() == 1);
  CHECK(tokens[0].expiration_seconds == 7201);
  CHECK(tokens[0].ns == "team-a");
  CHECK(tokens[0].name == u.login);
  CHECK(tokens[0].audiences ==
        std::vector<std::string>{"https://kubernetes.default.svc.cluster.local"});
  CHECK(creds.key_id == "system:serviceaccount:team-a:" + u.login);
  CHECK(creds.identity == creds.key_id);
  CHECK(creds.session_token.empty());
  CHECK(creds.expires_at == tokens[0].expires_at);
  CHECK(creds.expires_at > wall_now() + 7190s);
  CHECK(creds.expires_at <= wall_now() + 7201s);

  // Less than ten minutes left (or none): the API's minimum, which it would otherwise refuse.
  e.provisioner.issue(u, e.clock.now() + 30s);
  e.provisioner.issue(u, e.clock.now() - 5min);
  e.provisioner.issue(u, e.clock.now() + 600s);
  e.provisioner.issue(u, e.clock.now() + 600s + 1ms);
  tokens = e.kube.issued_tokens();
  REQUIRE(tokens.size() == 5);
  CHECK(tokens[1].expiration_seconds == 600);
  CHECK(tokens[2].expiration_seconds == 600);
  CHECK(tokens[3].expiration_seconds == 600);
  CHECK(tokens[4].expiration_seconds == 601);

  // The fixture refuses what the real API refuses.
  auto short_lived =
      e.admin("POST", "/api/v1/namespaces/team-a/serviceaccounts/" + u.login + "/token",
              R"({"spec":{"expirationSeconds":599}})");
  CHECK(short_lived.status == 422);
  CHECK(status_reason(short_lived.body) == "Invalid");
  CHECK(contains(short_lived.body, "may not specify a duration less than 10 minutes"));

  auto pods = e.list_pods(creds.secret);
  INFO(pods.body);
  REQUIRE(pods.status == 200);
  CHECK(pod_names(pods.body) == std::vector<std::string>{"web-0", "web-1", "db-0"});
  // Only in the namespace it was granted.
  auto other = e.list_pods(creds.secret, "team-b");
  CHECK(other.status == 403);
  CHECK(status_reason(other.body) == "Forbidden");
  // And nothing else: it cannot make itself more accounts.
  CHECK(e.get(creds.secret, "/api/v1/namespaces/team-a/serviceaccounts/" + u.login).status == 403);

  e.provisioner.revoke(u);
}

TEST_CASE("revoke deletes both objects and the earlier token is refused; twice is fine",
          "[kubernetes]") {
  env e;
  auto u = e.unit();
  e.provisioner.grant(u);
  const auto creds = e.provisioner.issue(u, e.clock.now() + 1h);
  REQUIRE(e.list_pods(creds.secret).status == 200);

  e.provisioner.revoke(u);
  CHECK_FALSE(e.kube.find_service_account("team-a", u.login));
  CHECK_FALSE(e.kube.find_role_binding("team-a", u.login));

  // The token has 59 minutes to go, and is refused anyway: its account is gone.
  auto after = e.list_pods(creds.secret);
  CHECK(after.status == 401);
  CHECK(status_reason(after.body) == "Unauthorized");
  CHECK(e.kube.requests().back().token == kube_fixture::token_kind::rejected);

  REQUIRE_NOTHROW(e.provisioner.revoke(u));
  CHECK_THROWS_AS(e.provisioner.issue(u, e.clock.now() + 1h), provision_error);
  // A revoked unit is not brought back by a reset.
  const auto msg = error_of([&] { e.provisioner.reset(u); });
  CHECK(contains(msg, "does not exist"));
  CHECK_FALSE(e.kube.find_service_account("team-a", u.login));
}

TEST_CASE("reset kills every earlier token; a token issued afterwards works", "[kubernetes]") {
  env e;
  auto u = e.unit();
  e.provisioner.grant(u);
  const auto first = e.provisioner.issue(u, e.clock.now() + 1h);
  const auto second = e.provisioner.issue(u, e.clock.now() + 1h);
  REQUIRE(e.list_pods(first.secret).status == 200);
  const auto old_uid = e.kube.find_service_account("team-a", u.login)->uid;
  const auto binding_uid = e.kube.find_role_binding("team-a", u.login)->uid;

  e.provisioner.reset(u);
  auto sa = e.kube.find_service_account("team-a", u.login);
  REQUIRE(sa);
  CHECK(sa->uid != old_uid);
  CHECK(sa->labels["app.kubernetes.io/managed-by"] == "apono");
  CHECK(e.kube.find_role_binding("team-a", u.login)->uid == binding_uid);
  CHECK(e.list_pods(first.secret).status == 401);
  CHECK(e.list_pods(second.secret).status == 401);

  const auto fresh = e.provisioner.issue(u, e.clock.now() + 1h);
  CHECK(fresh.secret != first.secret);
  CHECK(e.list_pods(fresh.secret).status == 200);

  // A reset that stopped between deleting and recreating the account is finished by the next.
  REQUIRE(e.admin("DELETE", "/api/v1/namespaces/team-a/serviceaccounts/" + u.login).status == 200);
  e.provisioner.reset(u);
  const auto again = e.provisioner.issue(u, e.clock.now() + 1h);
  CHECK(e.list_pods(again.secret).status == 200);
  CHECK(e.list_pods(fresh.secret).status == 401);

  e.provisioner.revoke(u);
  CHECK(e.list_pods(again.secret).status == 401);
}

TEST_CASE("a ClusterRole without pod rights gives 403 with the API's message", "[kubernetes]") {
  env e;
  auto u = e.unit("none");
  e.provisioner.grant(u);
  CHECK(e.kube.find_role_binding("team-a", u.login)->role_name == "nothing");
  const auto creds = e.provisioner.issue(u, e.clock.now() + 1h);
  auto r = e.list_pods(creds.secret);
  INFO(r.body);
  CHECK(r.status == 403);
  CHECK(status_reason(r.body) == "Forbidden");
  CHECK(contains(r.body, "pods is forbidden: User \\\"system:serviceaccount:team-a:" + u.login +
                             "\\\" cannot list resource \\\"pods\\\" in API group \\\"\\\" in the "
                             "namespace \\\"team-a\\\""));
  e.provisioner.revoke(u);
}

TEST_CASE("the audience is requested when configured and the API refuses foreign ones",
          "[kubernetes]") {
  env e;
  e.integration.audience = "https://kubernetes.default.svc.cluster.local";
  auto u = e.unit();
  e.provisioner.grant(u);
  const auto ok = e.provisioner.issue(u, e.clock.now() + 1h);
  CHECK(e.kube.issued_tokens().back().audiences ==
        std::vector<std::string>{"https://kubernetes.default.svc.cluster.local"});
  CHECK(e.list_pods(ok.secret).status == 200);

  e.integration.audience = "vault";
  const auto vault = e.provisioner.issue(u, e.clock.now() + 1h);
  CHECK(e.kube.issued_tokens().back().audiences == std::vector<std::string>{"vault"});
  CHECK(e.list_pods(vault.secret).status == 401);
  e.provisioner.revoke(u);
}

TEST_CASE("no token reaches an error message", "[kubernetes]") {
  env e;
  std::vector<std::string> secrets{e.kube.admin_token()};
  std::vector<std::string> messages;
  auto collect = [&](const std::function<void()>& f) { messages.push_back(error_of(f)); };

  auto u = e.unit();
  e.provisioner.grant(u);
  secrets.push_back(e.provisioner.issue(u, e.clock.now() + 1h).secret);

  auto wrong = e.integration;
  wrong.token = "wrong-" + secrets[1];
  collect([&] { e.provisioner.check(wrong); });
  collect([&] { e.provisioner.grant(e.unit("view", "team-z")); });
  auto closed = e.integration;
  closed.endpoint = "https://127.0.0.1:" + std::to_string(apono::test::free_port());
  auto cu = u;
  cu.integration = &closed;
  collect([&] { e.provisioner.grant(cu); });
  collect([&] { e.provisioner.issue(cu, e.clock.now() + 1h); });
  e.provisioner.revoke(u);
  collect([&] { e.provisioner.issue(u, e.clock.now() + 1h); });
  collect([&] { e.provisioner.reset(u); });

  for (const auto& m : messages) {
    INFO(m);
    CHECK_FALSE(m.empty());
    for (const auto& s : secrets) CHECK_FALSE(contains(m, s));
    CHECK_FALSE(contains(m, wrong.token));
  }
}

TEST_CASE("concurrent grants, issues and revokes on one provisioner", "[kubernetes]") {
  env e;
  constexpr int n = 8;
  std::vector<provision_unit> units;
  for (int i = 0; i < n; ++i) units.push_back(e.unit(i % 2 ? "view" : "none", "team-a"));
  std::vector<int> statuses(n, 0);
  std::vector<std::string> errors(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      try {
        e.provisioner.grant(units[i]);
        auto c = e.provisioner.issue(units[i], e.clock.now() + 1h);
        statuses[i] = e.list_pods(c.secret).status;
        e.provisioner.revoke(units[i]);
      } catch (const std::exception& ex) {
        errors[i] = ex.what();
      }
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < n; ++i) {
    INFO("unit " << i << ": " << errors[i]);
    CHECK(errors[i].empty());
    CHECK(statuses[i] == (i % 2 ? 200 : 403));
  }
  CHECK(e.kube.service_accounts().empty());
  CHECK(e.kube.role_bindings().empty());
}

namespace {

/// Runs the real kubectl with a kubeconfig in a temp dir, or says why it cannot.
struct kubectl_env {
  apono::test::temp_dir home{"apono-kubectl-"};

  static bool available() {
    try {
      return apono::test::run({"kubectl", "version", "--client"}, {}, {}, 30s).status == 0;
    } catch (const std::exception&) {
      return false;
    }
  }

  void write_config(const kube_fixture& kube, const std::string& token) const {
    std::ofstream out(home.path / "kubeconfig");
    out << "apiVersion: v1\n"
           "kind: Config\n"
           "clusters:\n"
           "- name: fixture\n"
           "  cluster:\n"
           "    server: "
        << kube.url() << "\n    certificate-authority: " << kube.ca_file().string()
        << "\n"
           "users:\n"
           "- name: apono-user\n"
           "  user:\n"
           "    token: "
        << token
        << "\n"
           "contexts:\n"
           "- name: apono-test\n"
           "  context:\n"
           "    cluster: fixture\n"
           "    user: apono-user\n"
           "current-context: apono-test\n";
  }

  /// kubectl --context apono-test ARGS, with its discovery cache in `cache` under the temp dir.
  apono::test::run_result kubectl(const std::vector<std::string>& args,
                                  const std::string& cache = "cache") const {
    std::vector<std::string> argv{"kubectl", "--context", "apono-test"};
    argv.insert(argv.end(), args.begin(), args.end());
    return apono::test::run(argv, {},
                            {{"KUBECONFIG", (home.path / "kubeconfig").string()},
                             {"HOME", home.path.string()},
                             {"KUBECACHEDIR", (home.path / cache).string()}},
                            60s);
  }
};

}  // namespace

TEST_CASE("the real kubectl lists pods with an issued token until revoke",
          "[kubernetes][kubectl]") {
  if (!kubectl_env::available()) {
    WARN("kubectl not found in PATH: skipping the kubectl checks");
    return;
  }
  env e;
  kubectl_env k;
  auto u = e.unit();
  e.provisioner.grant(u);
  const auto creds = e.provisioner.issue(u, e.clock.now() + 1h);
  k.write_config(e.kube, creds.secret);

  auto r = k.kubectl({"get", "pods", "-n", "team-a"});
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(std::regex_search(r.output, std::regex(R"(NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE)")));
  CHECK(std::regex_search(r.output, std::regex(R"(web-0\s+1/1\s+Running\s+0\s+42m)")));
  CHECK(contains(r.output, "web-1"));
  CHECK(contains(r.output, "db-0"));
  // It asked for aggregated discovery, fell back to the legacy documents, and got the
  // server-side table it asked for, all with the issued token.
  bool aggregated = false, legacy = false, table = false;
  for (const auto& req : e.kube.requests()) {
    if (req.token != kube_fixture::token_kind::service_account || req.status != 200) continue;
    if (req.path == "/api" && contains(req.accept, "g=apidiscovery.k8s.io")) aggregated = true;
    if (req.path == "/api/v1") legacy = true;
    if (req.path == "/api/v1/namespaces/team-a/pods" &&
        contains(req.accept, "as=Table;v=v1;g=meta.k8s.io"))
      table = true;
  }
  CHECK(aggregated);
  CHECK(legacy);
  CHECK(table);

  auto forbidden = k.kubectl({"get", "pods", "-n", "team-b"});
  INFO(forbidden.output);
  CHECK(forbidden.status != 0);
  CHECK(contains(forbidden.output, "Forbidden"));
  CHECK(contains(forbidden.output, "cannot list resource \"pods\""));

  e.provisioner.revoke(u);
  // With discovery cached, kubectl goes straight to the pods and gets the 401 there; with a
  // fresh cache it gets it from discovery. Both must read as "log in again".
  for (const std::string cache : {"cache", "fresh-cache"}) {
    auto after = k.kubectl({"get", "pods", "-n", "team-a"}, cache);
    INFO(cache << ": " << after.output);
    CHECK(after.status != 0);
    CHECK((contains(after.output, "Unauthorized") || contains(after.output, "must be logged in")));
    CHECK_FALSE(contains(after.output, "web-0"));
  }
}
