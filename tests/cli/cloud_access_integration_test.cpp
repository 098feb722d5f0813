// AWS and Kubernetes access end to end: the real apono and aponod, the real aws CLI and
// kubectl, and local stand-ins for STS/IAM (checking SigV4) and the Kubernetes API (checking
// bearer tokens under RBAC). The tools work through credential_process and the exec plugin
// while the grant lasts, fail with apono's message after it, and credentials a client kept
// stop working at the source.
#include <sys/stat.h>
#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <fstream>
#include <thread>

#include "common/http_client.hpp"
#include "common/secrets.hpp"
#include "common/time.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/cli_fixture.hpp"
#include "tests/support/cloud/aws_fixture.hpp"
#include "tests/support/cloud/kube_fixture.hpp"
#include "tests/support/endings.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/process.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

const std::string account = "123456789012";
const std::string role_arn = "arn:aws:iam::123456789012:role/ReadOnly";

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// The broker with the sample catalog plus an aws and a kubernetes integration pointing at the
// fixtures, an automatic flow for the engineers over both, and alice logged in.
struct stack {
  pg_fixture pg;
  aws_fixture aws;
  kube_fixture kube;
  temp_dir dir{"apono-cloud-test"};
  std::unique_ptr<broker_fixture> b;
  cli_fixture cli;

  stack() {
    aws.add_role(role_arn);
    const auto& o = aws.options();
    std::string extra =
        "integrations:\n"
        "  - id: aws-dev\n    type: aws\n    region: " +
        o.region +
        "\n"
        "    sts_endpoint: " +
        aws.url() + "\n    iam_endpoint: " + aws.url() +
        "\n"
        "    ca_file: " +
        aws.ca_file().string() +
        "\n"
        "    access_key_id: " +
        o.access_key_id +
        "\n"
        "    secret_access_key: \"" +
        o.secret_access_key +
        "\"\n"
        "    resources: [\"" +
        account +
        "\"]\n"
        "    permissions:\n"
        "      - {name: read-only, role_arn: \"arn:aws:iam::{account}:role/ReadOnly\"}\n"
        "  - id: k8s-dev\n    type: kubernetes\n    server: " +
        kube.url() +
        "\n"
        "    ca_file: " +
        kube.ca_file().string() +
        "\n"
        "    token: " +
        kube.admin_token() +
        "\n"
        "    resources: [team-a]\n    permissions: [view]\n"
        "access_flows:\n"
        "  - name: engineers-cloud\n    requestors: {groups: [engineers]}\n"
        "    targets:\n"
        "      - {integration: aws-dev, resources: [\"*\"], permissions: [\"*\"]}\n"
        "      - {integration: k8s-dev, resources: [\"*\"], permissions: [\"*\"]}\n"
        "    approval: automatic\n    max_duration: 8h\n";
    write(dir.path / "extra.yaml", extra);
    b = std::make_unique<broker_fixture>(
        pg, std::vector<std::string>{"--dev-extra", (dir.path / "extra.yaml").string()});
    auto in = cli.apono({"login", "--server", b->url(), "--ca-file", b->ca_file().string(),
                         "--token", b->token("alice")});
    REQUIRE(in.status == 0);
  }

  std::string grant(const std::string& integration, const std::string& resource,
                    const std::string& permission, const std::string& duration) {
    json::object body{{"integration", integration},
                      {"resources", json::array{json::value(resource)}},
                      {"permissions", json::array{json::value(permission)}},
                      {"duration", duration},
                      {"justification", "cloud integration test"}};
    auto a = b->call("alice", "POST", "/api/v1/access-requests", json::serialize(body));
    INFO(a.body);
    REQUIRE(a.status == 201);
    std::string id(a.json.at("id").as_string());
    INFO(b->log());
    REQUIRE(wait_until([&] { return request_status(*b, "alice", id) == "ACTIVE"; }, 30s));
    return id;
  }

  apono::common::time_point ends_at(const std::string& id) {
    auto d = b->call("alice", "GET", "/api/v1/access-requests/" + id);
    return *apono::common::parse_rfc3339(d.json.at("ends_at").as_string());
  }

  void wait_ended(const std::string& id, const std::string& final_status) {
    auto end = ends_at(id);
    std::this_thread::sleep_until(std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(end.time_since_epoch())));
    REQUIRE(wait_until([&] { return request_status(*b, "alice", id) == final_status; }, 10s));
  }

  // The environment the tools run in: the CLI's home and profiles, the fixtures' CAs, and
  // nothing that could send botocore to the instance metadata address.
  [[nodiscard]] std::map<std::string, std::string> env() const {
    auto e = cli.env();
    e["AWS_CONFIG_FILE"] = (cli.home() / ".aws" / "config").string();
    e["AWS_SHARED_CREDENTIALS_FILE"] = (cli.home() / ".aws" / "credentials").string();
    e["AWS_CA_BUNDLE"] = aws.ca_file().string();
    e["AWS_EC2_METADATA_DISABLED"] = "true";
    e["AWS_PAGER"] = "";
    e["KUBECONFIG"] = (cli.home() / ".kube" / "config").string();
    return e;
  }

  run_result tool(std::vector<std::string> argv,
                  const std::map<std::string, std::string>& more = {}) const {
    auto e = env();
    for (const auto& [k, v] : more) e[k] = v;
    return run(argv, {}, e, 60s);
  }
};

const std::string aws_config_before =
    "# Managed by hand; keep this comment.\n"
    "[default]\n"
    "region = eu-west-1\n"
    "output = json\n"
    "\n"
    "[profile apono]\n"
    "credential_process = /old/apono access aws-credentials AR-00001\n"
    "\n"
    "[profile work]\n"
    "sso_session = corp\n"
    "sso_account_id = 111111111111\n"
    "sso_role_name = Dev\n"
    "; a comment in the last profile\n"
    "\n"
    "[sso-session corp]\n"
    "sso_start_url = https://corp.awsapps.com/start\n"
    "sso_region = eu-west-1\n";

const std::string kubeconfig_before =
    "apiVersion: v1\n"
    "clusters:\n"
    "- cluster:\n"
    "    certificate-authority-data: TUlJQg==\n"
    "    server: https://prod.example.com:6443\n"
    "  name: prod\n"
    "contexts:\n"
    "- context:\n"
    "    cluster: prod\n"
    "    namespace: payments\n"
    "    user: prod-admin\n"
    "  name: prod\n"
    "current-context: prod\n"
    "kind: Config\n"
    "preferences: {}\n"
    "users:\n"
    "- name: prod-admin\n"
    "  user:\n"
    "    exec:\n"
    "      apiVersion: client.authentication.k8s.io/v1beta1\n"
    "      args:\n"
    "      - eks\n"
    "      - get-token\n"
    "      command: aws\n"
    "      interactiveMode: IfAvailable\n"
    "      provideClusterInfo: false\n";

}  // namespace

TEST_CASE("aws --profile apono works through credential_process during the grant, not after it",
          "[cloud][integration]") {
  if (!on_path("aws")) {
    WARN("the aws CLI is not installed: skipped");
    return;
  }
  stack s;
  // 90 s: a dozen aws and apono calls have to fit in it; under ASan on a loaded machine 45 s
  // did not suffice.
  // One grant that expires, one that is revoked; they run side by side.
  auto id = s.grant("aws-dev", account, "read-only", "90s");
  auto revoked = s.grant("aws-dev", account, "read-only", "10m");
  const auto config = s.cli.home() / ".aws" / "config";
  write(config, aws_config_before);
  s.aws.set_role_policy("ReadOnly", "team-policy", R"({"Version":"2012-10-17","Statement":[]})");

  // The instructions name both ways in.
  auto use = s.cli.apono({"access", "use", id, "-o", "instructions"}, {}, s.env());
  INFO(use.out << use.err);
  REQUIRE(use.status == 0);
  CHECK(use.out.find("apono access use " + id + " --aws-profile apono") != std::string::npos);
  CHECK(use.out.find("aws sts get-caller-identity --profile apono") != std::string::npos);
  CHECK(use.out.find("Role:        " + role_arn) != std::string::npos);
  CHECK(use.out.find("export AWS_ACCESS_KEY_ID=") != std::string::npos);

  // The profile: written where AWS_CONFIG_FILE says, the old [profile apono] updated in
  // place, everything else byte for byte, 0600.
  auto setup = s.cli.apono({"access", "use", id, "--aws-profile"}, {}, s.env());
  INFO(setup.out << setup.err);
  REQUIRE(setup.status == 0);
  CHECK(setup.out.empty());  // no secrets printed when setting up a profile
  CHECK(setup.err.find("aws sts get-caller-identity --profile apono") != std::string::npos);
  auto after = apono::common::read_file(config);
  CHECK(file_mode(config) == 0600);
  const auto head_end = aws_config_before.find("[profile apono]");
  const auto tail_start = aws_config_before.find("[profile work]");
  CHECK(after.substr(0, head_end) == aws_config_before.substr(0, head_end));
  CHECK(after.ends_with(aws_config_before.substr(tail_start)));
  const std::string apono_section =
      after.substr(head_end, after.size() - (aws_config_before.size() - tail_start) - head_end);
  INFO(apono_section);
  CHECK(apono_section.find("/old/apono") == std::string::npos);
  CHECK(apono_section.find("credential_process = ") != std::string::npos);
  CHECK(apono_section.find("access aws-credentials " + id) != std::string::npos);
  CHECK(apono_section.find("region = us-east-1") != std::string::npos);
  // Once more changes nothing.
  REQUIRE(s.cli.apono({"access", "use", id, "--aws-profile"}, {}, s.env()).status == 0);
  CHECK(apono::common::read_file(config) == after);

  // The real aws CLI through the profile.
  auto who = s.tool({"aws", "sts", "get-caller-identity", "--profile", "apono", "--endpoint-url",
                     s.aws.url(), "--output", "json"});
  INFO(who.output);
  REQUIRE(who.status == 0);
  auto identity = json::parse(who.output.substr(who.output.find('{')));
  const std::string session = "apono-" + id + "-alice";
  CHECK(identity.at("Arn").as_string() ==
        "arn:aws:sts::" + account + ":assumed-role/ReadOnly/" + session);

  // The fixture saw SigV4 with the temporary credentials the broker had issued for this grant,
  // and the broker's own AssumeRole signed with its long-term key, for no longer than needed.
  auto gci = s.aws.calls("GetCallerIdentity");
  REQUIRE(!gci.empty());
  CHECK(gci.back().signature_valid);
  CHECK(gci.back().temporary);
  bool issued_here = false;
  for (const auto& c : s.aws.calls("AssumeRole")) {
    CHECK(c.access_key_id == s.aws.options().access_key_id);
    CHECK_FALSE(c.temporary);
    CHECK(c.signature_valid);
    if (c.issued_key_id == gci.back().access_key_id) {
      issued_here = true;
      CHECK(c.session_name == session);
      CHECK(c.role_arn == role_arn);
      CHECK(c.duration_seconds == 900);  // 90 s left: STS's minimum
    }
  }
  CHECK(issued_here);

  // Version 1 JSON, never past the grant end; a client keeps these.
  auto creds = s.cli.apono({"access", "aws-credentials", id}, {}, s.env());
  REQUIRE(creds.status == 0);
  auto kept = json::parse(creds.out);
  CHECK(kept.at("Version").as_int64() == 1);
  auto expiration = apono::common::parse_rfc3339(kept.at("Expiration").as_string());
  REQUIRE(expiration);
  CHECK(*expiration <= s.ends_at(id));
  std::map<std::string, std::string> kept_env{
      {"AWS_ACCESS_KEY_ID", std::string(kept.at("AccessKeyId").as_string())},
      {"AWS_SECRET_ACCESS_KEY", std::string(kept.at("SecretAccessKey").as_string())},
      {"AWS_SESSION_TOKEN", std::string(kept.at("SessionToken").as_string())},
      {"AWS_CONFIG_FILE", "/dev/null"}};
  const std::vector<std::string> read_policy{
      "aws",         "iam",      "get-role-policy", "--role-name",    "ReadOnly",  "--policy-name",
      "team-policy", "--region", "us-east-1",       "--endpoint-url", s.aws.url(), "--output",
      "json"};
  auto before_end = s.tool(read_policy, kept_env);
  require_before_end("the last aws call during the grant", s.ends_at(id), 1s);
  INFO(before_end.output);
  CHECK(before_end.status == 0);

  // The revoke: the deny statement is on the role right away, and the helper says why.
  auto r = s.cli.apono({"requests", "revoke", revoked, "--wait"}, {}, s.env());
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  auto policy = s.aws.role_policy("ReadOnly", "apono-revoked-sessions");
  REQUIRE(policy);
  CHECK(policy->find("*:apono-" + revoked + "-alice") != std::string::npos);
  auto after_revoke = s.cli.apono({"access", "aws-credentials", revoked}, {}, s.env());
  CHECK(after_revoke.status == 1);
  CHECK(after_revoke.err.find("access " + revoked + " ended at") != std::string::npos);
  CHECK(after_revoke.err.find("(it was revoked); request it again: apono requests again " +
                              revoked) != std::string::npos);

  // The end: aws fails with apono's message, and the kept credentials are denied at the source.
  s.wait_ended(id, "EXPIRED");
  auto late = s.tool({"aws", "sts", "get-caller-identity", "--profile", "apono", "--endpoint-url",
                      s.aws.url(), "--output", "json"});
  INFO(late.output);
  CHECK(late.status != 0);
  CHECK(late.output.find("access " + id + " ended at") != std::string::npos);
  CHECK(late.output.find("(the grant expired); request it again: apono requests again " + id) !=
        std::string::npos);

  policy = s.aws.role_policy("ReadOnly", "apono-revoked-sessions");
  REQUIRE(policy);
  auto doc = json::parse(*policy);
  bool found = false;
  for (const auto& st : doc.at("Statement").as_array()) {
    const auto& cond = st.at("Condition").as_object();
    auto userid = cond.at("StringLike").at("aws:userid").as_string();
    if (userid != "*:" + session) continue;
    found = true;
    CHECK(st.at("Effect").as_string() == "Deny");
    auto issued_before =
        apono::common::parse_rfc3339(cond.at("DateLessThan").at("aws:TokenIssueTime").as_string());
    REQUIRE(issued_before);
    CHECK(*issued_before >= s.ends_at(id) - 1s);  // everything issued for the grant
  }
  CHECK(found);
  CHECK(policy->find("*:apono-" + revoked + "-alice") != std::string::npos);  // both kept
  auto denied = s.tool(read_policy, kept_env);
  INFO(denied.output);
  CHECK(denied.status != 0);
  CHECK(denied.output.find("explicit deny") != std::string::npos);

  // Neither the broker's key nor anything it issued reached aponod's log.
  auto log = s.b->log();
  CHECK(log.find(s.aws.options().secret_access_key) == std::string::npos);
  CHECK(log.find(kept_env.at("AWS_SECRET_ACCESS_KEY")) == std::string::npos);
  CHECK(log.find(kept_env.at("AWS_SESSION_TOKEN")) == std::string::npos);
}

TEST_CASE("kubectl works through the exec plugin during the grant, not after it",
          "[cloud][integration]") {
  if (!on_path("kubectl") || !kubectl_has_exec_v1()) {
    WARN("no kubectl 1.22 or later (exec plugins v1): skipped");
    return;
  }
  stack s;
  auto id = s.grant("k8s-dev", "team-a", "view", "60s");
  const auto kubeconfig = s.cli.home() / ".kube" / "config";
  write(kubeconfig, kubeconfig_before);
  const std::string context = "apono-" + id;

  auto use = s.cli.apono({"access", "use", id, "-o", "instructions"}, {}, s.env());
  INFO(use.out << use.err);
  REQUIRE(use.status == 0);
  CHECK(use.out.find("apono access use " + id + " --kubeconfig --switch-context") !=
        std::string::npos);
  CHECK(use.out.find("kubectl --context " + context + " get pods -n team-a") != std::string::npos);
  CHECK(use.out.find("ClusterRole: view") != std::string::npos);

  auto setup = s.cli.apono({"access", "use", id, "--kubeconfig", "--switch-context"}, {}, s.env());
  INFO(setup.out << setup.err);
  REQUIRE(setup.status == 0);
  auto after = apono::common::read_file(kubeconfig);
  INFO(after);
  CHECK(file_mode(kubeconfig) == 0600);
  // Every unrelated entry byte for byte.
  for (const char* block :
       {"- cluster:\n    certificate-authority-data: TUlJQg==\n    server: "
        "https://prod.example.com:6443\n  name: prod\n",
        "- context:\n    cluster: prod\n    namespace: payments\n    user: prod-admin\n  name: "
        "prod\n",
        "- name: prod-admin\n  user:\n    exec:\n      apiVersion: "
        "client.authentication.k8s.io/v1beta1\n      args:\n      - eks\n      - get-token\n      "
        "command: aws\n      interactiveMode: IfAvailable\n      provideClusterInfo: false\n",
        "apiVersion: v1\n", "kind: Config\npreferences: {}\n"})
    CHECK(after.find(block) != std::string::npos);
  CHECK(after.find("current-context: " + context + "\n") != std::string::npos);

  // kubectl, as the user types it, through the exec plugin.
  auto pods = s.tool({"kubectl", "--context", context, "get", "pods", "-n", "team-a"});
  INFO(pods.output);
  REQUIRE(pods.status == 0);
  CHECK(pods.output.find("web-0") != std::string::npos);
  CHECK(pods.output.find("db-0") != std::string::npos);
  auto current = s.tool({"kubectl", "get", "pods", "-n", "team-a", "-o", "name"});
  INFO(current.output);
  CHECK(current.status == 0);
  CHECK(current.output.find("pod/web-1") != std::string::npos);
  auto other = s.tool({"kubectl", "config", "get-contexts", "-o", "name"});
  CHECK(other.output.find("prod") != std::string::npos);

  // The ServiceAccount and RoleBinding the broker made, and the ExecCredential a client keeps.
  std::string sa_name;
  for (const auto& sa : s.kube.service_accounts())
    if (sa.labels.count("app.kubernetes.io/managed-by") &&
        sa.labels.at("app.kubernetes.io/managed-by") == "apono")
      sa_name = sa.name;
  REQUIRE(!sa_name.empty());
  auto rb = s.kube.find_role_binding("team-a", sa_name);
  REQUIRE(rb);
  CHECK(rb->role_name == "view");
  auto creds = s.cli.apono({"access", "kube-credentials", id}, {}, s.env());
  REQUIRE(creds.status == 0);
  auto cred = json::parse(creds.out);
  CHECK(cred.at("apiVersion").as_string() == "client.authentication.k8s.io/v1");
  CHECK(cred.at("kind").as_string() == "ExecCredential");
  auto exp = apono::common::parse_rfc3339(cred.at("status").at("expirationTimestamp").as_string());
  REQUIRE(exp);
  CHECK(*exp <= s.ends_at(id));
  const std::string kept_token(cred.at("status").at("token").as_string());
  for (const auto& t : s.kube.issued_tokens()) CHECK(t.expiration_seconds >= 600);
  require_before_end("the last kubectl and kube-credentials calls during the grant", s.ends_at(id),
                     1s);

  s.wait_ended(id, "EXPIRED");
  auto late = s.tool({"kubectl", "--context", context, "get", "pods", "-n", "team-a"});
  INFO(late.output);
  CHECK(late.status != 0);
  CHECK(late.output.find("access " + id + " ended at") != std::string::npos);
  CHECK(late.output.find("apono requests again " + id) != std::string::npos);
  CHECK_FALSE(s.kube.find_service_account("team-a", sa_name));
  CHECK_FALSE(s.kube.find_role_binding("team-a", sa_name));
  // The token a client kept died with its ServiceAccount.
  apono::common::http_client api({s.kube.url(), s.kube.ca_file(), kept_token});
  CHECK(api.request("GET", "/api/v1/namespaces/team-a/pods").status == 401);

  // Neither the broker's token nor the one it issued reached aponod's log.
  auto log = s.b->log();
  CHECK(log.find(s.kube.admin_token()) == std::string::npos);
  CHECK(log.find(kept_token) == std::string::npos);
}
