// AWS and Kubernetes grants on the user's machine. The tools keep their own habits: `aws
// --profile apono` finds its credentials through credential_process, kubectl through an exec
// plugin, and both call back into `apono access ...-credentials`, which asks the broker each
// time. Nothing secret is written to disk; once the grant has ended the helpers fail with the
// same clear message the database shell prints.
#include "cli/cloud_access.hpp"

#include <CLI/CLI.hpp>

#include <boost/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <vector>

#include "cli/api_client.hpp"
#include "cli/aws_config_file.hpp"
#include "cli/helper_support.hpp"
#include "cli/instructions.hpp"
#include "cli/kubeconfig_file.hpp"
#include "cli/output.hpp"

namespace apono::cli {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

std::string kind_name(std::string_view type) {
  return type == "aws" ? "AWS" : "Kubernetes";
}

struct picked {
  const json::value* unit = nullptr;
  std::size_t of_type = 0;  // units of this type in the request: >1 means helpers must say which
};

picked pick_unit(const json::value& d, std::string_view type, const std::string& resource,
                 const std::string& permission) {
  picked p;
  std::string names;
  std::size_t matches = 0;
  for (const auto& u : d.at("units").as_array()) {
    if (text(u, "type") != type) continue;
    ++p.of_type;
    names += (names.empty() ? "" : ", ") + text(u, "resource") + " " + text(u, "permission");
    if ((!resource.empty() && text(u, "resource") != resource) ||
        (!permission.empty() && text(u, "permission") != permission))
      continue;
    p.unit = &u;
    ++matches;
  }
  auto id = text(d, "request_id");
  if (p.of_type == 0) throw std::runtime_error(id + " holds no " + kind_name(type) + " access");
  if (matches == 0)
    throw std::runtime_error(id + " does not cover " + (resource.empty() ? "*" : resource) + " " +
                             (permission.empty() ? "*" : permission) + " (it covers " + names +
                             ")");
  if (matches > 1)
    throw usage_error(id + " covers " + names + ": say which with --resource and --permission");
  return p;
}

std::vector<std::string> selection_args(const picked& p) {
  if (p.of_type < 2) return {};
  return {"--resource", text(*p.unit, "resource"), "--permission", text(*p.unit, "permission")};
}

// The cluster, user and context name: the request, plus the unit when it holds several.
std::string kube_context(const json::value& d, const picked& p) {
  auto name = "apono-" + text(d, "request_id");
  if (p.of_type > 1) name += "-" + text(*p.unit, "resource") + "-" + text(*p.unit, "permission");
  return name;
}

std::string join_command(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + shell_quote(a);
  return s;
}

std::string aws_profile_section_name(const std::string& profile) {
  return profile == "default" ? "[default]" : "[profile " + profile + "]";
}

void set_up_aws_profile(const cloud_use_options& o, const global_options& g, const json::value& d,
                        io& streams) {
  auto p = pick_unit(d, "aws", o.resource, o.permission);
  const auto& u = *p.unit;
  auto helper = self_command(g);
  for (auto a : {"access", "aws-credentials"}) helper.emplace_back(a);
  helper.push_back(text(d, "request_id"));
  for (auto& a : selection_args(p)) helper.push_back(std::move(a));
  std::vector<std::pair<std::string, std::string>> settings{
      {"credential_process", join_command(helper)}};
  if (auto region = text(u, "region"); !region.empty()) settings.emplace_back("region", region);

  auto path = write_aws_profile(*o.aws_profile, settings);
  streams.err << "[notice] Wrote " << aws_profile_section_name(*o.aws_profile) << " to "
              << path.string() << " (role " << text(u, "role_arn") << "); try:\n"
              << "  aws sts get-caller-identity --profile " << shell_quote(*o.aws_profile) << "\n";
}

void set_up_kubeconfig(const cloud_use_options& o, const global_options& g, const json::value& d,
                       io& streams) {
  auto p = pick_unit(d, "kubernetes", o.resource, o.permission);
  const auto& u = *p.unit;
  auto id = text(d, "request_id");
  kube_entries e;
  e.name = kube_context(d, p);
  e.server = text(u, "server");
  e.ca_pem = text(u, "certificate_authority");
  e.namespace_name = text(u, "namespace");
  auto helper = self_command(g);
  e.exec_command = helper.front();
  helper.erase(helper.begin());
  for (auto a : {"access", "kube-credentials"}) helper.emplace_back(a);
  helper.push_back(id);
  for (auto& a : selection_args(p)) helper.push_back(std::move(a));
  e.exec_args = helper;

  e.switch_context = o.switch_context;
  // kubectl's rules for $KUBECONFIG lists decide the file; current-context may live elsewhere.
  auto written = write_kubeconfig_entries(e);
  auto path = written.empty() ? kubeconfig_write_target(e.name) : written.front();
  streams.err << "[notice] Wrote cluster, user and context " << e.name << " to " << path.string()
              << (o.switch_context ? " and made it the current context" : "") << "; try:\n"
              << "  kubectl --context " << shell_quote(e.name) << " get pods -n "
              << shell_quote(e.namespace_name) << "\n";
}

void print_credentials_json(std::ostream& out, const json::object& o) {
  out << json::serialize(o) << "\n";
}

}  // namespace

bool wants_cloud_setup(const cloud_use_options& o) {
  return o.aws_profile.has_value() || o.kubeconfig || o.switch_context;
}

void apply_cloud_use(const cloud_use_options& o, const global_options& g, const json::value& d,
                     io& streams) {
  if (o.switch_context && !o.kubeconfig)
    throw usage_error("--switch-context goes with --kubeconfig");
  if (o.aws_profile) {
    if (o.aws_profile->empty()) throw usage_error("--aws-profile: the profile name is empty");
    set_up_aws_profile(o, g, d, streams);
  }
  if (o.kubeconfig) set_up_kubeconfig(o, g, d, streams);
}

void print_cloud_unit(std::ostream& out, const json::value& d, const json::value& u) {
  auto type = text(u, "type");
  if (type != "aws" && type != "kubernetes") return;
  auto id = text(d, "request_id");
  // Only the selection flags when the request holds more than one unit of the kind.
  picked p{&u, 0};
  for (const auto& x : d.at("units").as_array()) p.of_type += text(x, "type") == type ? 1 : 0;
  std::string which;
  for (const auto& a : selection_args(p)) which += " " + shell_quote(a);
  if (auto exp = text(u, "expiration"); !exp.empty())
    out << "  These credentials expire at " << local_time(exp, "%Y-%m-%d %H:%M:%S %Z")
        << "; the helpers below fetch fresh ones until the grant ends.\n\n";
  if (type == "aws") {
    out << "Use it with the aws CLI (credential_process fetches credentials while the grant "
           "lasts):\n"
        << "  apono access use " << id << which << " --aws-profile apono\n"
        << "  aws sts get-caller-identity --profile apono\n\n"
        << "Or in this shell only:\n"
        << "  export AWS_ACCESS_KEY_ID=" << shell_quote(text(u, "access_key_id"))
        << " AWS_SECRET_ACCESS_KEY=" << shell_quote(text(u, "secret_access_key"))
        << " AWS_SESSION_TOKEN=" << shell_quote(text(u, "session_token"));
    if (auto region = text(u, "region"); !region.empty())
      out << " AWS_REGION=" << shell_quote(region);
    out << "\n\n";
    return;
  }
  auto context = kube_context(d, p);
  out << "Use it with kubectl (the exec plugin fetches tokens while the grant lasts):\n"
      << "  apono access use " << id << which << " --kubeconfig --switch-context\n"
      << "  kubectl --context " << shell_quote(context) << " get pods -n "
      << shell_quote(text(u, "namespace")) << "\n\n";
}

void setup_cloud_credentials(CLI::App& access, global_options& g, io& streams) {
  struct options {
    std::string id, resource, permission;
  };
  auto add = [&](const char* name, const char* help) {
    auto o = std::make_shared<options>();
    auto* cmd = access.add_subcommand(name, help);
    cmd->add_option("id", o->id, "request id, e.g. AR-00012")->required();
    cmd->add_option("--resource", o->resource, "the account or namespace, when several");
    cmd->add_option("--permission", o->permission, "the role, when several");
    return std::pair{cmd, o};
  };

  auto [aws, ao] = add("aws-credentials",
                       "print AWS credentials as credential_process expects (Version 1 JSON)");
  aws->callback([o = ao, &g, &streams] {
    auto d = fetch_details(g, o->id);
    const auto& u = *pick_unit(d, "aws", o->resource, o->permission).unit;
    json::object out{{"Version", 1},
                     {"AccessKeyId", text(u, "access_key_id")},
                     {"SecretAccessKey", text(u, "secret_access_key")},
                     {"SessionToken", text(u, "session_token")}};
    // Never past the grant end: the aws CLI asks again when this time comes.
    if (auto exp = text(u, "expiration"); !exp.empty()) out["Expiration"] = exp;
    print_credentials_json(streams.out, out);
  });

  auto [kube, ko] =
      add("kube-credentials", "print a Kubernetes ExecCredential for kubectl's exec plugin");
  kube->callback([o = ko, &g, &streams] {
    auto d = fetch_details(g, o->id);
    const auto& u = *pick_unit(d, "kubernetes", o->resource, o->permission).unit;
    // kubectl says which version it reads in KUBERNETES_EXEC_INFO; answer in that one.
    std::string api = "client.authentication.k8s.io/v1";
    if (const char* info = std::getenv("KUBERNETES_EXEC_INFO")) {
      boost::system::error_code ec;
      auto v = json::parse(info, ec);
      if (!ec && v.is_object()) {
        auto asked = text(v, "apiVersion");
        if (asked == "client.authentication.k8s.io/v1beta1") api = asked;
      }
    }
    json::object status{{"token", text(u, "token")}};
    if (auto exp = text(u, "expiration"); !exp.empty()) status["expirationTimestamp"] = exp;
    print_credentials_json(streams.out, json::object{{"apiVersion", api},
                                                     {"kind", "ExecCredential"},
                                                     {"status", std::move(status)}});
  });
}

}  // namespace apono::cli
