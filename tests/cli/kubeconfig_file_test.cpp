// upsert_kubeconfig on kubeconfigs as kubectl, kind, minikube and `aws eks update-kubeconfig`
// write them and as people hand-write them: exact output for appends and replacements, every
// other byte kept, refusals, and the result read back by the real kubectl (which also decides
// which of several $KUBECONFIG files a new entry goes to).
#include "cli/kubeconfig_file.hpp"

#include <yaml-cpp/yaml.h>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "cli/private_file.hpp"
#include "tests/support/process.hpp"

using namespace apono::cli;
namespace fs = std::filesystem;
using apono::test::file_mode;
using apono::test::on_path;
using apono::test::scoped_env;
namespace json = boost::json;

namespace {

const std::string pem =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBdzCCAR2gAwIBAgIBADAKBggqhkjOPQQDAjAjMSEwHwYDVQQDDBhhcG9ubw==\n"
    "-----END CERTIFICATE-----\n";
// `base64 -w0` of pem.
const std::string pem_b64 =
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkekNDQVIyZ0F3SUJBZ0lCQURBS0JnZ3Foa2pPUFFRREFqQWpNU"
    "0V3SHdZRFZRUUREQmhoY0c5dWJ3PT0KLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=";

kube_entries apono_entries(bool switch_context = false) {
  return {"apono-AR-00012", "https://127.0.0.1:6443", pem,
          "team-a",         "/usr/local/bin/apono",   {"access", "kube-credentials", "AR-00012"},
          switch_context};
}

const std::string apono_cluster =
    "- cluster:\n"
    "    certificate-authority-data: " +
    pem_b64 +
    "\n"
    "    server: https://127.0.0.1:6443\n"
    "  name: apono-AR-00012\n";
const std::string apono_context =
    "- context:\n"
    "    cluster: apono-AR-00012\n"
    "    namespace: team-a\n"
    "    user: apono-AR-00012\n"
    "  name: apono-AR-00012\n";
const std::string apono_user =
    "- name: apono-AR-00012\n"
    "  user:\n"
    "    exec:\n"
    "      apiVersion: client.authentication.k8s.io/v1\n"
    "      args:\n"
    "      - access\n"
    "      - kube-credentials\n"
    "      - AR-00012\n"
    "      command: /usr/local/bin/apono\n"
    "      interactiveMode: Never\n"
    "      provideClusterInfo: false\n";

// An older apono entry of the same name, as an earlier `apono access use` left it.
const std::string old_apono_cluster =
    "- cluster:\n"
    "    server: https://127.0.0.1:5999\n"
    "  name: apono-AR-00012\n";
const std::string old_apono_context =
    "- context:\n"
    "    cluster: apono-AR-00012\n"
    "    user: apono-AR-00012\n"
    "  name: apono-AR-00012\n";
const std::string old_apono_user =
    "- name: apono-AR-00012\n"
    "  user:\n"
    "    exec:\n"
    "      apiVersion: client.authentication.k8s.io/v1\n"
    "      args:\n"
    "      - access\n"
    "      - kube-credentials\n"
    "      - AR-00001\n"
    "      command: /opt/apono/bin/apono\n"
    "      interactiveMode: Never\n"
    "      provideClusterInfo: false\n";

// Written by kubectl config set-cluster / set-credentials / set-context / use-context (v1.32).
const std::string kind_cluster =
    "- cluster:\n"
    "    certificate-authority-data: "
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkekNDQVIyZ0F3SUJBZ0lCQURBS0JnZ3Foa2pPUFFRREFqQWpN"
    "U0V3SHdZRFZRUUREQmhyTTNNdGMyVnkKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=\n"
    "    server: https://127.0.0.1:39211\n"
    "  name: kind-dev\n";
const std::string prod_cluster =
    "- cluster:\n"
    "    server: https://prod.example.com\n"
    "  name: prod\n";
const std::string kind_context =
    "- context:\n"
    "    cluster: kind-dev\n"
    "    namespace: team-a\n"
    "    user: kind-dev\n"
    "  name: kind-dev\n";
const std::string prod_context =
    "- context:\n"
    "    cluster: prod\n"
    "    user: eks-user\n"
    "  name: prod\n";
const std::string eks_user =
    "- name: eks-user\n"
    "  user:\n"
    "    exec:\n"
    "      apiVersion: client.authentication.k8s.io/v1beta1\n"
    "      args:\n"
    "      - eks\n"
    "      - get-token\n"
    "      - --cluster-name\n"
    "      - prod\n"
    "      command: aws\n"
    "      env:\n"
    "      - name: AWS_PROFILE\n"
    "        value: prod\n"
    "      interactiveMode: IfAvailable\n"
    "      provideClusterInfo: false\n";
const std::string kind_user =
    "- name: kind-dev\n"
    "  user:\n"
    "    token: abc123\n";

std::string kubectl_file(const std::string& clusters, const std::string& contexts,
                         const std::string& users,
                         const std::string& current = "current-context: kind-dev\n") {
  return "apiVersion: v1\nclusters:\n" + clusters + "contexts:\n" + contexts + current +
         "kind: Config\npreferences: {}\nusers:\n" + users;
}

const std::string kubectl_written =
    kubectl_file(kind_cluster + prod_cluster, kind_context + prod_context, eks_user + kind_user);

// Hand-written: items indented two spaces, name first, comments between and after items.
const std::string hand_written =
    "# Home lab and staging. Ask #infra before changing staging.\n"
    "apiVersion: v1\n"
    "kind: Config\n"
    "\n"
    "clusters:\n"
    "  - name: home   # the NUC under the desk\n"
    "    cluster:\n"
    "      server: https://10.0.0.2:6443\n"
    "      insecure-skip-tls-verify: true\n"
    "\n"
    "  # staging is down until March\n"
    "  - name: staging\n"
    "    cluster:\n"
    "      server: \"https://staging.internal:6443\"\n"
    "\n"
    "# Users\n"
    "users:\n"
    "  - name: me\n"
    "    user:\n"
    "      token: '1234'\n"
    "\n"
    "contexts:\n"
    "  - name: home\n"
    "    context: {cluster: home, user: me}\n"
    "\n"
    "current-context: home   # default\n";

// minikube's layout: extensions with nested lists inside the items.
const std::string minikube_written =
    "apiVersion: v1\n"
    "clusters:\n"
    "- cluster:\n"
    "    certificate-authority: /home/dev/.minikube/ca.crt\n"
    "    extensions:\n"
    "    - extension:\n"
    "        last-update: Mon, 04 Mar 2024 10:12:43 CET\n"
    "        provider: minikube.sigs.k8s.io\n"
    "        version: v1.32.0\n"
    "      name: cluster_info\n"
    "    server: https://192.168.49.2:8443\n"
    "  name: minikube\n"
    "contexts:\n"
    "- context:\n"
    "    cluster: minikube\n"
    "    extensions:\n"
    "    - extension:\n"
    "        last-update: Mon, 04 Mar 2024 10:12:43 CET\n"
    "        provider: minikube.sigs.k8s.io\n"
    "        version: v1.32.0\n"
    "      name: context_info\n"
    "    namespace: default\n"
    "    user: minikube\n"
    "  name: minikube\n"
    "current-context: minikube\n"
    "kind: Config\n"
    "preferences: {}\n"
    "users:\n"
    "- name: minikube\n"
    "  user:\n"
    "    client-certificate: /home/dev/.minikube/profiles/minikube/client.crt\n"
    "    client-key: /home/dev/.minikube/profiles/minikube/client.key\n";

// `aws eks update-kubeconfig`: ARNs as names (colons and slashes), exec with env.
const std::string eks_written =
    "apiVersion: v1\n"
    "clusters:\n"
    "- cluster:\n"
    "    certificate-authority-data: " +
    pem_b64 +
    "\n"
    "    server: https://ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com\n"
    "  name: arn:aws:eks:eu-west-1:123456789012:cluster/prod\n"
    "contexts:\n"
    "- context:\n"
    "    cluster: arn:aws:eks:eu-west-1:123456789012:cluster/prod\n"
    "    user: arn:aws:eks:eu-west-1:123456789012:cluster/prod\n"
    "  name: arn:aws:eks:eu-west-1:123456789012:cluster/prod\n"
    "current-context: arn:aws:eks:eu-west-1:123456789012:cluster/prod\n"
    "kind: Config\n"
    "preferences: {}\n"
    "users:\n"
    "- name: arn:aws:eks:eu-west-1:123456789012:cluster/prod\n"
    "  user:\n"
    "    exec:\n"
    "      apiVersion: client.authentication.k8s.io/v1beta1\n"
    "      args:\n"
    "      - --region\n"
    "      - eu-west-1\n"
    "      - eks\n"
    "      - get-token\n"
    "      - --cluster-name\n"
    "      - prod\n"
    "      - --output\n"
    "      - json\n"
    "      command: aws\n"
    "      env:\n"
    "      - name: AWS_PROFILE\n"
    "        value: prod\n";

std::string indented(const std::string& block, std::size_t n) {
  std::string out;
  std::istringstream in(block);
  for (std::string line; std::getline(in, line);) out += std::string(n, ' ') + line + "\n";
  return out;
}

std::string crlf(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// True when every line of `before` is in `after`, in order, and `after` has `added` more.
bool only_lines_added(const std::string& before, const std::string& after, std::size_t added) {
  auto b = lines_of(before);
  auto a = lines_of(after);
  if (a.size() != b.size() + added) return false;
  std::size_t i = 0;
  for (const auto& line : a)
    if (i < b.size() && line == b[i]) ++i;
  return i == b.size();
}

std::size_t line_count(const std::string& s) {
  return lines_of(s).size();
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void refused(const std::string& text, const std::string& what) {
  INFO(text);
  CHECK_THROWS_WITH(upsert_kubeconfig(text, apono_entries()), Catch::Contains(what));
}

}  // namespace

TEST_CASE("entries are appended to a kubectl-written file in kubectl's layout") {
  auto out = upsert_kubeconfig(kubectl_written, apono_entries());
  CHECK(out == kubectl_file(kind_cluster + prod_cluster + apono_cluster,
                            kind_context + prod_context + apono_context,
                            eks_user + kind_user + apono_user));
  auto switched = upsert_kubeconfig(kubectl_written, apono_entries(true));
  CHECK(switched == kubectl_file(kind_cluster + prod_cluster + apono_cluster,
                                 kind_context + prod_context + apono_context,
                                 eks_user + kind_user + apono_user,
                                 "current-context: apono-AR-00012\n"));
}

TEST_CASE("an existing apono entry is replaced in place, the text around it byte for byte") {
  auto before = kubectl_file(kind_cluster + old_apono_cluster + prod_cluster,
                             old_apono_context + kind_context + prod_context,
                             eks_user + old_apono_user + kind_user);
  auto out = upsert_kubeconfig(before, apono_entries());
  CHECK(out == kubectl_file(kind_cluster + apono_cluster + prod_cluster,
                            apono_context + kind_context + prod_context,
                            eks_user + apono_user + kind_user));
  // The same, checked as "outside the replaced range": prefix and suffix of each range.
  auto at = before.find(old_apono_cluster);
  REQUIRE(at != std::string::npos);
  CHECK(out.substr(0, at) == before.substr(0, at));
  CHECK(out.substr(at, apono_cluster.size()) == apono_cluster);
  auto tail = before.substr(before.find(kind_user));
  CHECK(out.ends_with(tail));
}

TEST_CASE("upserting twice gives the same text") {
  for (const auto* text : {&kubectl_written, &hand_written, &minikube_written, &eks_written}) {
    for (bool sw : {false, true}) {
      auto once = upsert_kubeconfig(*text, apono_entries(sw));
      CHECK(upsert_kubeconfig(once, apono_entries(sw)) == once);
      auto changed = apono_entries(sw);
      changed.server = "https://127.0.0.1:7000";
      changed.exec_args.push_back("--verbose");
      auto other = upsert_kubeconfig(once, changed);
      CHECK(other != once);
      CHECK(upsert_kubeconfig(other, apono_entries(sw)) == once);
    }
  }
}

TEST_CASE("hand-written two-space lists get two-space items after their last item") {
  auto out = upsert_kubeconfig(hand_written, apono_entries(true));
  CHECK(out ==
        "# Home lab and staging. Ask #infra before changing staging.\n"
        "apiVersion: v1\n"
        "kind: Config\n"
        "\n"
        "clusters:\n"
        "  - name: home   # the NUC under the desk\n"
        "    cluster:\n"
        "      server: https://10.0.0.2:6443\n"
        "      insecure-skip-tls-verify: true\n"
        "\n"
        "  # staging is down until March\n"
        "  - name: staging\n"
        "    cluster:\n"
        "      server: \"https://staging.internal:6443\"\n" +
            indented(apono_cluster, 2) +
            "\n"
            "# Users\n"
            "users:\n"
            "  - name: me\n"
            "    user:\n"
            "      token: '1234'\n" +
            indented(apono_user, 2) +
            "\n"
            "contexts:\n"
            "  - name: home\n"
            "    context: {cluster: home, user: me}\n" +
            indented(apono_context, 2) +
            "\n"
            "current-context: apono-AR-00012\n");
}

TEST_CASE("minikube and EKS files keep every line; only the entries are added") {
  for (const auto* text : {&minikube_written, &eks_written}) {
    auto out = upsert_kubeconfig(*text, apono_entries());
    auto added = line_count(apono_cluster) + line_count(apono_context) + line_count(apono_user);
    CHECK(only_lines_added(*text, out, added));
  }
}

TEST_CASE("CRLF files get CRLF lines and keep their own") {
  auto text = crlf(kubectl_written);
  auto out = upsert_kubeconfig(text, apono_entries(true));
  CHECK(out ==
        crlf(kubectl_file(kind_cluster + prod_cluster + apono_cluster,
                          kind_context + prod_context + apono_context,
                          eks_user + kind_user + apono_user, "current-context: apono-AR-00012\n")));
  CHECK(upsert_kubeconfig(out, apono_entries(true)) == out);
}

TEST_CASE("a missing final newline stays missing unless the edit is at the end") {
  auto text = kubectl_file(kind_cluster, kind_context, kind_user);
  // Users last: appending there must first end the old last line.
  auto no_nl = text.substr(0, text.size() - 1);
  CHECK(upsert_kubeconfig(no_nl, apono_entries()) == kubectl_file(kind_cluster + apono_cluster,
                                                                  kind_context + apono_context,
                                                                  kind_user + apono_user));
  // current-context last and not switched: the edits are elsewhere, the end stays as it was.
  auto cc_last = "apiVersion: v1\nclusters:\n" + kind_cluster + "contexts:\n" + kind_context +
                 "users:\n" + kind_user + "current-context: kind-dev";
  auto out = upsert_kubeconfig(cc_last, apono_entries());
  CHECK(out == "apiVersion: v1\nclusters:\n" + kind_cluster + apono_cluster + "contexts:\n" +
                   kind_context + apono_context + "users:\n" + kind_user + apono_user +
                   "current-context: kind-dev");
}

TEST_CASE("an empty file becomes a complete kubeconfig; comments only are kept above it") {
  auto complete = [](bool sw) {
    return "apiVersion: v1\nclusters:\n" + apono_cluster + "contexts:\n" + apono_context +
           (sw ? "current-context: apono-AR-00012\n" : "") +
           "kind: Config\npreferences: {}\nusers:\n" + apono_user;
  };
  CHECK(upsert_kubeconfig("", apono_entries()) == complete(false));
  CHECK(upsert_kubeconfig("", apono_entries(true)) == complete(true));
  CHECK(upsert_kubeconfig("# kubeconfig\n\n", apono_entries(true)) ==
        "# kubeconfig\n\n" + complete(true));
  CHECK(upsert_kubeconfig("# no newline", apono_entries()) == "# no newline\n" + complete(false));
  CHECK(upsert_kubeconfig("---\n", apono_entries()) == "---\n" + complete(false));
}

TEST_CASE("empty and missing lists are filled in") {
  CHECK(upsert_kubeconfig("apiVersion: v1\nclusters: []\ncontexts: null\nusers:\nkind: Config\n",
                          apono_entries()) == "apiVersion: v1\nclusters:\n" + apono_cluster +
                                                  "contexts:\n" + apono_context + "users:\n" +
                                                  apono_user + "kind: Config\n");
  CHECK(upsert_kubeconfig("users: # none yet\nclusters: ~\n", apono_entries()) ==
        "users: # none yet\n" + apono_user + "clusters:\n" + apono_cluster + "contexts:\n" +
            apono_context);
  // Missing lists go to the end, in the other lists' indentation.
  CHECK(upsert_kubeconfig("kind: Config\nusers:\n  - name: me\n    user: {}\n", apono_entries()) ==
        "kind: Config\nusers:\n  - name: me\n    user: {}\n" + indented(apono_user, 2) +
            "clusters:\n" + indented(apono_cluster, 2) + "contexts:\n" +
            indented(apono_context, 2));
}

TEST_CASE("current-context changes only when switching, and is added when missing") {
  auto text = kubectl_file(kind_cluster, kind_context, kind_user);
  CHECK(upsert_kubeconfig(text, apono_entries()).find("current-context: kind-dev\n") !=
        std::string::npos);
  auto no_cc = kubectl_file(kind_cluster, kind_context, kind_user, "");
  CHECK(upsert_kubeconfig(no_cc, apono_entries()).find("current-context") == std::string::npos);
  CHECK(upsert_kubeconfig(no_cc, apono_entries(true))
            .ends_with(apono_user + "current-context: apono-AR-00012\n"));
  // A current-context written over several lines is replaced whole.
  auto multi = "current-context:\n  kind-dev\nkind: Config\n";
  CHECK(upsert_kubeconfig(multi, apono_entries(true))
            .starts_with("current-context: apono-AR-00012\nkind: Config\n"));
}

TEST_CASE("set_kubeconfig_current_context touches only current-context") {
  CHECK(set_kubeconfig_current_context(kubectl_written, "prod") ==
        kubectl_file(kind_cluster + prod_cluster, kind_context + prod_context, eks_user + kind_user,
                     "current-context: prod\n"));
  CHECK(set_kubeconfig_current_context("", "apono-AR-1") ==
        "apiVersion: v1\ncurrent-context: apono-AR-1\nkind: Config\npreferences: {}\n");
  CHECK(set_kubeconfig_current_context("kind: Config\n", "true") ==
        "kind: Config\ncurrent-context: \"true\"\n");
}

TEST_CASE("values YAML would read as something else are quoted and read back as strings") {
  auto e = apono_entries();
  e.name = "apono-AR-7";
  e.namespace_name = "2024";
  e.exec_args = {"true",   "",    "a b", "#x",          "null",      "0x1F", "x: y", "\"q\"",
                 "- dash", "yes", "~",   "back\\slash", "tab\there", "1e3",  "über"};
  auto out = upsert_kubeconfig("", e);
  auto root = YAML::Load(out);
  const auto user = root["users"][0]["user"]["exec"];
  REQUIRE(user["args"].size() == e.exec_args.size());
  for (std::size_t i = 0; i < e.exec_args.size(); ++i) {
    INFO(e.exec_args[i]);
    CHECK(user["args"][i].Scalar() == e.exec_args[i]);
    CHECK(user["args"][i].Tag() == "!");  // quoted, so no resolver makes it a bool or number
  }
  CHECK(root["contexts"][0]["context"]["namespace"].Tag() == "!");
  CHECK(out.find("command: /usr/local/bin/apono\n") != std::string::npos);
  CHECK(out.find("- access") == std::string::npos);
}

TEST_CASE("unusable entries are refused") {
  auto e = apono_entries();
  e.exec_command = "apono";
  CHECK_THROWS_AS(upsert_kubeconfig("", e), std::invalid_argument);
  e = apono_entries();
  e.name = "";
  CHECK_THROWS_AS(upsert_kubeconfig("", e), std::invalid_argument);
  e = apono_entries();
  e.name = "a\nb";
  CHECK_THROWS_AS(upsert_kubeconfig("", e), std::invalid_argument);
  e = apono_entries();
  e.server = "";
  CHECK_THROWS_AS(upsert_kubeconfig("", e), std::invalid_argument);
}

TEST_CASE("files apono cannot rewrite safely are refused with a one-line reason") {
  refused("clusters: [{name: a, cluster: {server: x}}]\n",
          "kubeconfig: clusters (line 1) is written in flow style ([...]); apono will not "
          "rewrite it");
  refused("clusters:\n\t- name: a\n", "line 2 is indented with a tab");
  refused("apiVersion: v1\n---\napiVersion: v1\n", "several YAML documents");
  refused("clusters:\n- &c\n  name: a\nusers:\n- *c\n", "uses YAML anchors or aliases");
  refused("server: &s https://x\nclusters:\n- name: a\n  cluster:\n    server: *s\n",
          "clusters (line 2) uses YAML anchors or aliases");
  refused("{\"apiVersion\": \"v1\", \"clusters\": []}", "flow style ({...}, JSON?)");
  refused("clusters:\n- name: a\n  cluster: [\n", "does not parse as YAML");
  refused("- a\n- b\n", "top level is not a mapping");
  refused("just a string\n", "top level is not a mapping");
  refused("apiVersion: v1\napiVersion: v1\n", "the top-level key apiVersion appears twice");
  refused("  apiVersion: v1\n  kind: Config\n", "laid out in a way apono does not follow");
  refused("clusters: {a: 1}\n", "clusters (line 1) is not a list");
  refused("clusters:\n- name: apono-AR-00012\n- name: apono-AR-00012\n",
          "clusters has two entries named apono-AR-00012");
  refused("kind: Config\rclusters: []\r", "bare CR");
  refused("a: 1\n...\n", "line 2 is a document marker after the first key");
  // Anchors outside the three lists do not matter and are kept.
  auto ok = "x-defaults: &d {a: 1}\npreferences: *d\nclusters: []\n";
  CHECK(upsert_kubeconfig(ok, apono_entries()).starts_with("x-defaults: &d {a: 1}\n"));
}

TEST_CASE("an edit that would change another entry is caught by the read-back check") {
  // A kept (|+) block scalar owns its trailing blank lines; inserting after its last text line
  // would take one away from it.
  auto text =
      "clusters:\n"
      "- name: a\n"
      "  cluster:\n"
      "    server: https://a\n"
      "    x-note: |+\n"
      "      keep\n"
      "\n"
      "users: []\n";
  refused(text, "the edit would not read back as intended");
}

TEST_CASE("kubeconfig_paths splits KUBECONFIG like kubectl") {
  scoped_env home("HOME", "/home/dev");
  {
    scoped_env kc("KUBECONFIG", "/a::/b:/a:");
    CHECK(kubeconfig_paths() == std::vector<fs::path>{"/a", "/b"});
  }
  {
    scoped_env kc("KUBECONFIG", std::nullopt);
    CHECK(kubeconfig_paths() == std::vector<fs::path>{"/home/dev/.kube/config"});
  }
  {
    scoped_env kc("KUBECONFIG", "");
    CHECK(kubeconfig_paths() == std::vector<fs::path>{"/home/dev/.kube/config"});
  }
}

TEST_CASE("the write target is the file defining the name, else kubectl's default file") {
  apono::test::temp_dir tmp;
  auto missing = tmp.path / "missing";
  auto first = tmp.path / "first";
  auto second = tmp.path / "second";
  std::ofstream(first) << kubectl_written;
  std::ofstream(second) << kubectl_file(kind_cluster, kind_context, old_apono_user);
  {
    scoped_env kc("KUBECONFIG", missing.string() + ":" + first.string() + ":" + second.string());
    CHECK(kubeconfig_write_target("apono-AR-00012") == second);
    CHECK(kubeconfig_write_target("apono-AR-99999") == first);
    CHECK(kubeconfig_write_target("kind-dev") == first);
    CHECK(kubeconfig_current_context_target() == first);
  }
  {
    scoped_env kc("KUBECONFIG", missing.string() + ":" + (tmp.path / "last").string());
    CHECK(kubeconfig_write_target("x") == tmp.path / "last");
  }
  {
    scoped_env kc("KUBECONFIG", missing.string());
    CHECK(kubeconfig_write_target("x") == missing);
  }
  {
    std::ofstream(first) << "clusters: [\n";
    scoped_env kc("KUBECONFIG", first.string() + ":" + second.string());
    CHECK_THROWS_WITH(kubeconfig_write_target("x"), Catch::StartsWith(first.string() + ": "));
  }
}

TEST_CASE("the file is written 0600; a refusal leaves it as it was") {
  apono::test::temp_dir tmp;
  auto file = tmp.path / ".kube" / "config";
  auto upsert = [](std::string_view old) { return upsert_kubeconfig(old, apono_entries()); };
  CHECK(edit_private_file(file, upsert));
  CHECK(file_mode(file) == 0600);
  CHECK(file_mode(file.parent_path()) == 0700);
  CHECK_FALSE(edit_private_file(file, upsert));

  std::string flow = "clusters: [{name: a}]\n";
  std::ofstream(file) << flow;
  REQUIRE(::chmod(file.c_str(), 0644) == 0);
  CHECK_THROWS_WITH(edit_private_file(file, upsert),
                    file.string() +
                        ": kubeconfig: clusters (line 1) is written in flow style ([...]); apono "
                        "will not rewrite it");
  CHECK(slurp(file) == flow);
  CHECK(file_mode(file) == 0644);
}

namespace {

/// The environment for kubectl: `kubeconfig`, and a HOME of the test's own, since kubectl keeps
/// caches under ~/.kube.
std::map<std::string, std::string> kubectl_env(const std::string& kubeconfig,
                                               const fs::path& home) {
  return {{"KUBECONFIG", kubeconfig}, {"HOME", home.string()}};
}

/// `kubectl config view --raw -o json` with KUBECONFIG=`kubeconfig`.
json::object kubectl_view(const std::string& kubeconfig, const fs::path& home) {
  auto r = apono::test::run({"kubectl", "config", "view", "--raw", "-o", "json"}, {},
                            kubectl_env(kubeconfig, home));
  INFO(r.output);
  REQUIRE(r.status == 0);
  return json::parse(r.output).as_object();
}

// The entry named `name` in list `key`, or null.
json::value named(const json::object& config, std::string_view key, std::string_view name) {
  for (const auto& item : config.at(key).as_array())
    if (item.at("name").as_string() == name) return item;
  return nullptr;
}

}  // namespace

TEST_CASE("kubectl reads the entries as intended and every other entry unchanged") {
  if (!on_path("kubectl")) {
    WARN("kubectl not on PATH: skipped");
    return;
  }
  for (const auto* text : {&kubectl_written, &hand_written, &minikube_written, &eks_written}) {
    apono::test::temp_dir tmp;
    auto file = tmp.path / "config";
    std::ofstream(file) << *text;
    auto before = kubectl_view(file.string(), tmp.path);
    CHECK(edit_private_file(
        file, [](std::string_view old) { return upsert_kubeconfig(old, apono_entries(true)); }));
    auto after = kubectl_view(file.string(), tmp.path);

    CHECK(after.at("current-context") == "apono-AR-00012");
    CHECK(named(after, "clusters", "apono-AR-00012") ==
          json::parse(R"({"name": "apono-AR-00012", "cluster": {"server":
              "https://127.0.0.1:6443", "certificate-authority-data": ")" +
                      pem_b64 + R"("}})"));
    CHECK(named(after, "contexts", "apono-AR-00012") ==
          json::parse(R"({"name": "apono-AR-00012", "context": {"cluster": "apono-AR-00012",
              "user": "apono-AR-00012", "namespace": "team-a"}})"));
    CHECK(named(after, "users", "apono-AR-00012") ==
          json::parse(R"({"name": "apono-AR-00012", "user": {"exec": {
              "apiVersion": "client.authentication.k8s.io/v1",
              "args": ["access", "kube-credentials", "AR-00012"],
              "command": "/usr/local/bin/apono", "env": null, "interactiveMode": "Never",
              "provideClusterInfo": false}}})"));
    for (auto key : {"clusters", "contexts", "users"}) {
      json::array others;
      for (const auto& item : after.at(key).as_array())
        if (item.at("name") != "apono-AR-00012") others.push_back(item);
      CHECK(others == before.at(key).as_array());
    }
    CHECK(after.at("preferences") == before.at("preferences"));

    auto contexts = apono::test::run({"kubectl", "config", "get-contexts", "-o", "name"}, {},
                                     kubectl_env(file.string(), tmp.path));
    CHECK(contexts.status == 0);
    CHECK(contexts.output.find("apono-AR-00012\n") != std::string::npos);
    for (const auto& c : before.at("contexts").as_array())
      CHECK(contexts.output.find(std::string(c.at("name").as_string()) + "\n") !=
            std::string::npos);
  }
}

TEST_CASE("kubectl reads quoted values back as the same strings") {
  if (!on_path("kubectl")) {
    WARN("kubectl not on PATH: skipped");
    return;
  }
  apono::test::temp_dir tmp;
  auto file = tmp.path / "config";
  auto e = apono_entries();
  e.namespace_name = "2024";
  e.exec_args = {"true",  "",    "a b", "#x",  "null", "0x1F", "x: y",
                 "\"q\"", "yes", "~",   "1e3", "y",    "off",  "über"};
  write_private_file(file, upsert_kubeconfig("", e));
  auto view = kubectl_view(file.string(), tmp.path);
  CHECK(named(view, "contexts", e.name).at("context").at("namespace") == "2024");
  json::array args;
  for (const auto& a : e.exec_args) args.emplace_back(a);
  CHECK(named(view, "users", e.name).at("user").at("exec").at("args") == args);
}

TEST_CASE("kubectl runs the exec plugin with our arguments") {
  if (!on_path("kubectl") || !apono::test::kubectl_has_exec_v1()) {
    WARN("no kubectl 1.22 or later on PATH: skipped");
    return;
  }
  apono::test::temp_dir tmp;
  auto plugin = tmp.path / "plugin";
  auto seen = tmp.path / "plugin.args";
  std::ofstream(plugin) << "#!/bin/sh\nprintf '%s\\n' \"$@\" > " << seen.string()
                        << "\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
                           "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"t\"}}'\n";
  fs::permissions(plugin, fs::perms::owner_all);
  auto e = apono_entries(true);
  e.ca_pem.clear();
  e.server = "https://127.0.0.1:" + std::to_string(apono::test::free_port());
  e.exec_command = plugin.string();
  e.exec_args = {"access", "kube-credentials", "AR-00012"};
  auto file = tmp.path / "config";
  write_private_file(file, upsert_kubeconfig(kubectl_written, e));
  // Nothing listens on the port: the request fails, after kubectl asked the plugin for a token.
  auto r = apono::test::run({"kubectl", "get", "--raw", "/version", "--request-timeout=5s"}, {},
                            kubectl_env(file.string(), tmp.path), std::chrono::seconds{30});
  INFO(r.output);
  CHECK(r.status != 0);
  CHECK(slurp(seen) == "access\nkube-credentials\nAR-00012\n");
}

TEST_CASE("kubectl writes new and existing entries to the files kubeconfig_write_target names") {
  if (!on_path("kubectl")) {
    WARN("kubectl not on PATH: skipped");
    return;
  }
  apono::test::temp_dir tmp;
  auto missing = tmp.path / "missing";
  auto first = tmp.path / "first";
  auto second = tmp.path / "second";
  std::ofstream(first) << kubectl_written;
  std::ofstream(second) << kubectl_file(old_apono_cluster, old_apono_context, old_apono_user);
  auto kubeconfig = missing.string() + ":" + first.string() + ":" + second.string();
  scoped_env kc("KUBECONFIG", kubeconfig);
  auto holds = [](const fs::path& p, const std::string& s) {
    return slurp(p).find(s) != std::string::npos;
  };

  // An existing stanza is modified where it is.
  REQUIRE(kubeconfig_write_target("apono-AR-00012") == second);
  auto r = apono::test::run(
      {"kubectl", "config", "set-cluster", "apono-AR-00012", "--server=https://127.0.0.1:4444"}, {},
      kubectl_env(kubeconfig, tmp.path));
  REQUIRE(r.status == 0);
  CHECK(holds(second, "127.0.0.1:4444"));
  CHECK_FALSE(holds(first, "127.0.0.1:4444"));

  // A new one goes to the first existing file, and so does current-context.
  REQUIRE(kubeconfig_write_target("brand-new") == first);
  REQUIRE(kubeconfig_current_context_target() == first);
  r = apono::test::run({"kubectl", "config", "set-cluster", "brand-new", "--server=https://n"}, {},
                       kubectl_env(kubeconfig, tmp.path));
  REQUIRE(r.status == 0);
  CHECK(holds(first, "brand-new"));
  CHECK_FALSE(holds(second, "brand-new"));
  CHECK_FALSE(fs::exists(missing));
  r = apono::test::run({"kubectl", "config", "use-context", "apono-AR-00012"}, {},
                       kubectl_env(kubeconfig, tmp.path));
  REQUIRE(r.status == 0);
  CHECK(holds(first, "current-context: apono-AR-00012"));

  // With none of the files there, kubectl creates the last one.
  auto none = missing.string() + ":" + (tmp.path / "last").string();
  scoped_env kc2("KUBECONFIG", none);
  REQUIRE(kubeconfig_write_target("x") == tmp.path / "last");
  r = apono::test::run({"kubectl", "config", "set-cluster", "x", "--server=https://x"}, {},
                       kubectl_env(none, tmp.path));
  REQUIRE(r.status == 0);
  CHECK(fs::exists(tmp.path / "last"));
  CHECK_FALSE(fs::exists(missing));
}

TEST_CASE("write_kubeconfig_entries creates ~/.kube/config when there is none") {
  apono::test::temp_dir tmp;
  scoped_env home("HOME", tmp.path.string());
  scoped_env kc("KUBECONFIG", std::nullopt);
  auto file = tmp.path / ".kube" / "config";
  CHECK(write_kubeconfig_entries(apono_entries(true)) == std::vector<fs::path>{file});
  CHECK(slurp(file) == upsert_kubeconfig("", apono_entries(true)));
  CHECK(file_mode(file) == 0600);
  CHECK(file_mode(file.parent_path()) == 0700);
  CHECK(write_kubeconfig_entries(apono_entries(true)).empty());
  CHECK_FALSE(fs::exists(file.string() + ".lock"));
}

TEST_CASE("write_kubeconfig_entries puts entries and current-context where kubectl would") {
  apono::test::temp_dir tmp;
  auto missing = tmp.path / "missing";
  auto first = tmp.path / "first";
  auto second = tmp.path / "second";
  std::ofstream(first) << kubectl_written;
  std::ofstream(second) << kubectl_file(old_apono_cluster, old_apono_context, old_apono_user);
  auto kubeconfig = missing.string() + ":" + first.string() + ":" + second.string();
  scoped_env kc("KUBECONFIG", kubeconfig);

  // Someone else's lock: nothing is written and their lock stays.
  std::ofstream(second.string() + ".lock") << "";
  CHECK_THROWS_WITH(write_kubeconfig_entries(apono_entries(true)),
                    Catch::Contains("second.lock exists"));
  CHECK(fs::exists(second.string() + ".lock"));
  CHECK_FALSE(fs::exists(first.string() + ".lock"));
  CHECK(slurp(first) == kubectl_written);
  fs::remove(second.string() + ".lock");

  // The entries are replaced in the file that defines them; current-context goes to the first
  // existing file, which kubectl reads it from.
  CHECK(write_kubeconfig_entries(apono_entries(true)) == std::vector<fs::path>{second, first});
  CHECK(slurp(second) == kubectl_file(apono_cluster, apono_context, apono_user));
  CHECK(slurp(first) == kubectl_file(kind_cluster + prod_cluster, kind_context + prod_context,
                                     eks_user + kind_user, "current-context: apono-AR-00012\n"));
  CHECK_FALSE(fs::exists(missing));
  CHECK_FALSE(fs::exists(first.string() + ".lock"));
  CHECK_FALSE(fs::exists(second.string() + ".lock"));

  if (!on_path("kubectl")) {
    WARN("kubectl not on PATH: skipped");
    return;
  }
  auto r = apono::test::run({"kubectl", "config", "current-context"}, {},
                            kubectl_env(kubeconfig, tmp.path));
  CHECK(r.output == "apono-AR-00012\n");
  auto view = kubectl_view(kubeconfig, tmp.path);
  CHECK(named(view, "clusters", "apono-AR-00012").at("cluster").at("server") ==
        "https://127.0.0.1:6443");
  CHECK(named(view, "contexts", "kind-dev") != nullptr);
}
