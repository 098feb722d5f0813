// `apono access list|use|reset-credentials` and `apono access-details`: the grants you hold
// now and their short-lived credentials, as instructions to paste, markdown, JSON or YAML.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <ctime>
#include <memory>
#include <ostream>

#include "cli/api_client.hpp"
#include "cli/cloud_access.hpp"
#include "cli/commands.hpp"
#include "cli/instructions.hpp"
#include "cli/output.hpp"
#include "cli/ssh_access.hpp"
#include "cli/ssh_config_access.hpp"
#include "common/duration.hpp"
#include "common/model.hpp"
#include "common/time.hpp"

namespace apono::cli {

namespace json = boost::json;

namespace {

/// How access details are shown.
enum class details_format { instructions, markdown, json, yaml };

details_format parse_details_format(const std::string& s) {
  if (s == "instructions") return details_format::instructions;
  if (s == "markdown") return details_format::markdown;
  if (s == "json") return details_format::json;
  if (s == "yaml") return details_format::yaml;
  throw usage_error("unknown output format '" + s + "': use instructions, markdown, json or yaml");
}

struct access_options {
  std::string id;
  std::string output;
  cloud_use_options cloud{};
  bool ssh_config = false;  ///< --ssh-config: write Host blocks instead of printing
};

// Backticks keep pasted values intact; a value holding one falls back to double backticks.
std::string code(const std::string& v) {
  return v.find('`') == std::string::npos ? "`" + v + "`" : "`` " + v + " ``";
}

void print_markdown(std::ostream& out, const json::value& d) {
  auto until = valid_until(text(d, "ends_at"));
  for (const auto& u : d.at("units").as_array()) {
    out << "## " << unit_title(d, u) << "\n\nValid until " << until << ".\n\n";
    out << "| Field | Value |\n|---|---|\n";
    for (const auto& [label, key] : unit_fields)
      if (auto v = text(u, key); !v.empty()) out << "| " << label << " | " << code(v) << " |\n";
    if (text(u, "type") == "postgresql") {
      out << "\n```sh\n";
      for (const auto& c : psql_commands(u)) out << c << "\n";
      out << "```\n";
    }
    out << "\n";
  }
  out << "> " << secrets_advice << "\n";
}

// An SSH unit needs a key and a certificate before there is anything to paste: they are made
// now, for this grant only, and kept where the printed command expects them.
void print_ssh_unit(std::ostream& out, const global_options& g, const json::value& d,
                    const json::value& u) {
  if (text(u, "type") != "ssh") return;
  auto details = common::details_from_json(d);
  const common::unit_credentials* unit = nullptr;
  for (const auto& x : details.units)
    if (x.type == "ssh" && x.resource == text(u, "resource") &&
        x.permission == text(u, "permission"))
      unit = &x;
  if (!unit) return;
  auto ssh = prepare_ssh_instructions(g, details, *unit);
  const auto& c = ssh.certificate;
  std::string cmd;
  for (const auto& a : ssh.argv) cmd += (cmd.empty() ? "" : " ") + shell_quote(a);
  out << "Connect with ssh:\n  " << cmd << "\n\n"
      << "  Certificate: principal " << c.principal << ", valid from "
      << local_time(common::format_rfc3339(c.valid_after), "%Y-%m-%d %H:%M:%S") << " to "
      << valid_until(common::format_rfc3339(c.valid_before)) << "\n"
      << "  Key id:      " << c.key_id << " (serial " << c.serial << ")\n"
      << "  Files:       " << ssh.dir.string() << " (key, certificate, known_hosts)\n\n";
}

void print_details(std::ostream& out, details_format f, const json::value& d,
                   const global_options& g) {
  switch (f) {
    case details_format::instructions:
      return print_instructions(out, d, [&](std::ostream& o, const json::value& u) {
        print_ssh_unit(o, g, d, u);
        print_cloud_unit(o, d, u);
      });
    case details_format::markdown:
      return print_markdown(out, d);
    case details_format::json:
      return print_json(out, d);
    case details_format::yaml:
      return print_yaml(out, d);
  }
}

void run_details(const access_options& o, const global_options& g, io& streams) {
  auto f = parse_details_format(o.output);
  auto d = connect(g).get("/api/v1/access-sessions/" + url_encode(o.id) + "/access-details");
  // Setting up a profile or a kubeconfig prints where it went, not the secrets.
  if (o.ssh_config) {
    if (wants_cloud_setup(o.cloud))
      throw usage_error("--ssh-config goes alone, without --aws-profile or --kubeconfig");
    return write_ssh_config(g, d, streams);
  }
  if (wants_cloud_setup(o.cloud)) return apply_cloud_use(o.cloud, g, d, streams);
  print_details(streams.out, f, d, g);
}

CLI::App* add_details_command(CLI::App& parent, const char* name, const char* help,
                              access_options& o) {
  auto* cmd = parent.add_subcommand(name, help);
  cmd->add_option("id", o.id, "request id, e.g. AR-00012")->required();
  cmd->add_option("-o,--output", o.output, "instructions, markdown, json or yaml")
      ->capture_default_str();
  return cmd;
}

}  // namespace

void setup_access(CLI::App& app, global_options& g, io& streams) {
  auto* access = app.add_subcommand("access", "use the access you hold now");
  access->require_subcommand(0, 1);
  // Runs after any subcommand's callback; alone, `apono access` shows what it offers.
  access->callback([access] {
    if (access->get_subcommands().empty()) throw CLI::CallForHelp();
  });

  auto lst = std::make_shared<std::string>("table");
  auto* list = access->add_subcommand("list", "list your ACTIVE grants");
  list->add_option("-o,--output", *lst, "table, json or yaml")->capture_default_str();
  list->callback([lst, &g, &streams] {
    auto fmt = parse_format(*lst);
    auto data = connect(g).get("/api/v1/access-sessions");
    // What is not listed has ended: its --ssh-config files go now, if no relay saw the end.
    std::vector<std::string> active;
    for (const auto& s : data.as_array()) {
      auto id = text(s, "request_id");
      active.push_back(id.empty() ? text(s, "id") : id);
    }
    keep_only_ssh_configs(g, active);
    table t{{"ID", "INTEGRATION", "RESOURCES", "PERMISSIONS", "ENDS"}, {}};
    for (const auto& s : data.as_array()) {
      auto id = text(s, "request_id");
      auto integ = text(s, "integration");
      auto ends = text(s, "ends_at");
      t.rows.push_back(
          {id.empty() ? text(s, "id") : id, integ.empty() ? "bundle " + text(s, "bundle") : integ,
           join(s.at("resources")), join(s.at("permissions")),
           ends.empty() ? "" : local_time(ends, "%Y-%m-%d %H:%M") + " (" + time_left(ends) + ")"});
    }
    print_result(streams.out, fmt, data, t, "active access");
  });

  // `access use` and `access-details` are the same view under the two names people know.
  auto use = std::make_shared<access_options>(access_options{{}, "instructions"});
  auto* use_cmd =
      add_details_command(*access, "use", "show the credentials and how to connect", *use);
  auto aws_profile = std::make_shared<std::string>();
  auto* aws_opt = use_cmd
                      ->add_option("--aws-profile", *aws_profile,
                                   "write [profile NAME] (default apono) with credential_process "
                                   "to the AWS config file")
                      ->expected(0, 1);
  use_cmd->add_flag("--kubeconfig", use->cloud.kubeconfig,
                    "add cluster, user and context apono-ID to the kubeconfig");
  use_cmd->add_flag("--switch-context", use->cloud.switch_context,
                    "with --kubeconfig: make apono-ID the current context");
  use_cmd->add_flag("--ssh-config", use->ssh_config,
                    "add a Host block per SSH unit to your ssh config (for scp, sftp, rsync, "
                    "git), removed when access ends");
  use_cmd->add_option("--resource", use->cloud.resource,
                      "the account or namespace, when the grant holds several");
  use_cmd->add_option("--permission", use->cloud.permission,
                      "the role, when the grant holds several");
  use_cmd->callback([use, aws_profile, aws_opt, &g, &streams] {
    // A bare --aws-profile means the profile the docs use throughout: apono.
    if (aws_opt->count() > 0)
      use->cloud.aws_profile = aws_profile->empty() ? "apono" : *aws_profile;
    run_details(*use, g, streams);
  });
  auto det = std::make_shared<access_options>(access_options{{}, "instructions"});
  add_details_command(app, "access-details", "show the credentials and how to connect", *det)
      ->callback([det, &g, &streams] { run_details(*det, g, streams); });

  setup_access_connect(*access, g, streams);
  setup_cloud_credentials(*access, g, streams);
  setup_access_proxy(*access, g, streams);
  setup_ssh_relay(*access, g, streams);

  auto rst = std::make_shared<access_options>(access_options{{}, "instructions"});
  add_details_command(*access, "reset-credentials",
                      "replace the password at the target and show the new details", *rst)
      ->callback([rst, &g, &streams] {
        auto f = parse_details_format(rst->output);
        auto d = connect(g).post("/api/v1/access-requests/" + url_encode(rst->id) +
                                 "/reset-credentials");
        streams.err << "[notice] New credentials for " << text(d, "request_id")
                    << "; the old password no longer works.\n";
        print_details(streams.out, f, d, g);
      });
}

}  // namespace apono::cli
