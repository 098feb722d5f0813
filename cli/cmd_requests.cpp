// `apono request` (= `requests create`), `requests [list|describe|revoke|again]`, `approve`
// and `reject`. Everything the user typed is checked before the first network call, so a
// typo costs no round trip and never reaches the broker's audit log.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <ctime>
#include <memory>
#include <ostream>

#include "cli/api_client.hpp"
#include "cli/commands.hpp"
#include "cli/instructions.hpp"
#include "cli/output.hpp"
#include "cli/request_flow.hpp"
#include "common/duration.hpp"
#include "common/time.hpp"

namespace apono::cli {

namespace json = boost::json;

namespace {

struct create_options {
  request_spec spec;
  bool no_wait = false;
  int timeout = 60;
  std::string output = "table";
};

struct list_options {
  int days = 0;
  std::string scope;
  std::string output = "table";
};

struct id_options {
  std::string id;
  std::string reason;
  std::string justification;
  std::string duration;
  bool wait = false;
  bool no_wait = false;
  int timeout = 60;
  std::string output = "table";
};

// Empty values come from `-r a,,b` or `-r ''`; they name nothing.
void drop_empty(std::vector<std::string>& v) {
  std::erase_if(v, [](const std::string& s) { return s.empty(); });
}

void check_duration(const std::string& d) {
  if (!d.empty() && !common::parse_duration(d))
    throw usage_error("invalid duration '" + d + "': use hours (0.75) or 90s, 45m, 1h30m");
}

void check_justification(const std::string& j) {
  if (j.find_first_not_of(" \t\n") == std::string::npos)
    throw usage_error("-j/--justification is required: say why you need this access");
}

void validate(request_spec& s) {
  drop_empty(s.resources);
  drop_empty(s.permissions);
  if (!s.bundle.empty()) {
    if (!s.integration.empty() || !s.resource_type.empty() || !s.resources.empty() ||
        !s.permissions.empty())
      throw usage_error("--bundle cannot be combined with -i, -t, -r or -p: the bundle names them");
  } else {
    if (s.integration.empty()) throw usage_error("-i/--integration is required (or --bundle NAME)");
    if (s.resources.empty())
      throw usage_error("-r/--resources is required: name at least one resource");
    if (s.permissions.empty())
      throw usage_error("-p/--permissions is required: name at least one permission");
  }
  check_justification(s.justification);
  check_duration(s.duration);
}

// `in 9m12s` or `3m ago`, to the second.
std::string relative(const std::string& rfc3339) {
  auto t = common::parse_rfc3339(rfc3339);
  if (!t) return {};
  auto now =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  auto d = std::chrono::duration_cast<std::chrono::seconds>(*t - now);
  if (d.count() > 0) return "in " + common::format_duration(d);
  return common::format_duration(-d) + " ago";
}

std::string when(const json::value& v, std::string_view key, bool with_relative) {
  auto s = text(v, key);
  if (s.empty()) return {};
  if (!with_relative) return local_time(s, "%Y-%m-%d %H:%M");
  return local_time(s, "%Y-%m-%d %H:%M:%S %Z") + " (" + relative(s) + ")";
}

void labelled(std::ostream& out, std::string_view label, const std::string& value) {
  if (value.empty()) return;
  std::string l(label);
  l += ":";
  l.resize(std::max<std::size_t>(l.size() + 1, 15), ' ');
  out << l << value << "\n";
}

std::string request_path(const std::string& id, std::string_view action = {}) {
  std::string p = "/api/v1/access-requests/" + url_encode(id);
  if (!action.empty()) p += "/" + std::string(action);
  return p;
}

// Why a request did not get granted: its reason, else the first unit's error.
std::string failure_reason(const json::value& r) {
  if (auto reason = text(r, "reason"); !reason.empty()) return reason;
  if (const auto* units = r.as_object().if_contains("units"); units && units->is_array())
    for (const auto& u : units->get_array())
      if (auto e = text(u, "last_error"); !e.empty()) return e;
  return {};
}

// Prints the outcome of `request` or `requests again`, then fails the command when the
// request cannot be used, so `apono request ... && psql ...` stops where it should.
void finish(const json::value& r, const request_spec& spec, format fmt, bool waited,
            std::chrono::seconds timeout, io& streams) {
  if (fmt == format::table)
    print_request_result(streams.out, r, spec);
  else
    print_result(streams.out, fmt, r, {}, "");
  auto id = text(r, "id"), status = text(r, "status");
  if (status == "FAILED" || status == "REJECTED") {
    auto why = failure_reason(r);
    throw std::runtime_error(id + " is " + status + (why.empty() ? "" : ": " + why));
  }
  if (status == "GRANTING" && waited)
    throw std::runtime_error(id + " is still GRANTING after " + std::to_string(timeout.count()) +
                             "s: check it with `apono requests describe " + id + "`");
}

void run_create(create_options o, const global_options& g, io& streams) {
  auto fmt = parse_format(o.output);
  validate(o.spec);
  auto api = connect(g);
  std::chrono::seconds timeout{o.timeout};
  auto r = submit_request(api, o.spec, !o.no_wait, timeout, streams);
  finish(r, o.spec, fmt, !o.no_wait, timeout, streams);
}

void add_create_options(CLI::App* cmd, create_options& o) {
  cmd->add_option("-i,--integration", o.spec.integration, "integration id or type/name");
  cmd->add_option("-t,--resource-type", o.spec.resource_type, "resource type, e.g. database");
  cmd->add_option("-r,--resources", o.spec.resources, "resources (-r a -r b, -r a b or -r a,b)")
      ->expected(1, -1)
      ->delimiter(',');
  cmd->add_option("-p,--permissions", o.spec.permissions,
                  "permissions (-p x -p y, -p x y or -p x,y)")
      ->expected(1, -1)
      ->delimiter(',');
  cmd->add_option("-j,--justification", o.spec.justification, "why you need this access");
  cmd->add_option("-d,--duration", o.spec.duration,
                  "how long once granted: hours (0.75) or 90s, 45m, 1h30m; default: the flow's");
  cmd->add_option("--bundle", o.spec.bundle, "request a bundle instead of -i/-t/-r/-p");
  cmd->add_flag("--no-wait", o.no_wait, "return once created, without waiting for the grant");
  cmd->add_option("--timeout", o.timeout, "seconds to wait for the grant")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("-o,--output", o.output, "table, json or yaml")->capture_default_str();
}

void run_list(const list_options& o, const global_options& g, io& streams) {
  auto fmt = parse_format(o.output);
  std::string query;
  if (o.days > 0) query += "days=" + std::to_string(o.days);
  if (!o.scope.empty())
    query += std::string(query.empty() ? "" : "&") + "scope=" + url_encode(o.scope);
  auto data = connect(g).get_all("/api/v1/access-requests" + (query.empty() ? "" : "?" + query));
  table t{{"ID", "STATUS", "INTEGRATION", "RESOURCES", "PERMISSIONS", "CREATED", "ENDS"}, {}};
  for (const auto& r : data.as_array()) {
    auto integ = text(r, "integration");
    if (integ.empty()) integ = "bundle " + text(r, "bundle");
    t.rows.push_back({text(r, "id"), text(r, "status"), integ, join(r.at("resources")),
                      join(r.at("permissions")), when(r, "created_at", false),
                      when(r, "ends_at", false)});
  }
  print_result(streams.out, fmt, data, t, "requests");
}

void add_list_options(CLI::App* cmd, list_options& o) {
  cmd->add_option("--days", o.days, "only requests from the last N days")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--scope", o.scope, "mine (default), approvable or all")
      ->check(CLI::IsMember({"mine", "approvable", "all"}));
  cmd->add_option("-o,--output", o.output, "table, json or yaml")->capture_default_str();
}

void print_description(std::ostream& out, const json::value& r) {
  labelled(out, "ID", text(r, "id"));
  labelled(out, "Status", text(r, "status"));
  labelled(out, "Requester", text(r, "requester"));
  labelled(out, "Bundle", text(r, "bundle"));
  labelled(out, "Integration", text(r, "integration"));
  labelled(out, "Resource type", text(r, "resource_type"));
  labelled(out, "Resources", join(r.at("resources")));
  labelled(out, "Permissions", join(r.at("permissions")));
  labelled(out, "Justification", text(r, "justification"));
  if (const auto* d = r.as_object().if_contains("duration_seconds"); d && d->is_int64())
    labelled(out, "Duration", common::format_duration(std::chrono::seconds{d->get_int64()}));
  auto flow = text(r, "access_flow");
  if (auto approval = text(r, "approval"); !approval.empty()) flow += " (" + approval + ")";
  labelled(out, "Flow", flow);
  labelled(out, "Decided by", text(r, "decided_by"));
  labelled(out, "Reason", text(r, "reason"));
  labelled(out, "Created", when(r, "created_at", true));
  labelled(out, "Active from", when(r, "active_from", true));
  labelled(out, "Ends", when(r, "ends_at", true));
  labelled(out, "End reason", text(r, "end_reason"));

  // A bundle spans integrations, so only then is the column worth its width.
  bool bundle = !text(r, "bundle").empty();
  table units;
  if (bundle) units.headers.emplace_back("INTEGRATION");
  for (const char* h : {"RESOURCE", "PERMISSION", "STATUS", "LAST ERROR"})
    units.headers.emplace_back(h);
  for (const auto& u : r.at("units").as_array()) {
    std::vector<std::string> row;
    if (bundle) row.push_back(text(u, "integration"));
    for (const char* k : {"resource", "permission", "status", "last_error"})
      row.push_back(text(u, k));
    units.rows.push_back(std::move(row));
  }
  out << "\n";
  print_table(out, units);
}

// After an approver or the requester acts: the new status, or the JSON for scripts.
void print_action(const json::value& r, format fmt, const std::string& line, io& streams) {
  if (fmt == format::table)
    streams.out << line << "\n";
  else
    print_result(streams.out, fmt, r, {}, "");
}

bool ended(const std::string& s) {
  return s == "REVOKED" || s == "EXPIRED" || s == "FAILED" || s == "REJECTED";
}

void run_revoke(const id_options& o, const global_options& g, io& streams) {
  auto fmt = parse_format(o.output);
  auto api = connect(g);
  json::object body;
  if (!o.reason.empty()) body["reason"] = o.reason;
  auto r = api.post(request_path(o.id, "revoke"), body);
  auto id = text(r, "id");
  if (o.wait && !ended(text(r, "status")))
    r = wait_for_request(api, id, ended, "be revoked", std::chrono::seconds{o.timeout}, streams);
  auto status = text(r, "status");
  print_action(r, fmt, id + " is " + status, streams);
  if (o.wait && !ended(status))
    throw std::runtime_error(id + " is still " + status + " after " + std::to_string(o.timeout) +
                             "s: the broker keeps retrying; check `apono requests describe " + id +
                             "`");
}

void run_again(const id_options& o, const global_options& g, io& streams) {
  auto fmt = parse_format(o.output);
  check_justification(o.justification);
  check_duration(o.duration);
  auto api = connect(g);
  json::object body{{"justification", o.justification}};
  if (!o.duration.empty()) body["duration"] = o.duration;
  auto r = api.post(request_path(o.id, "request-again"), body);
  std::chrono::seconds timeout{o.timeout};
  bool wait = !o.no_wait && text(r, "status") == "GRANTING";
  if (wait)
    r = wait_for_request(
        api, text(r, "id"), [](const std::string& s) { return s != "GRANTING"; }, "be granted",
        timeout, streams);
  request_spec spec;
  spec.bundle = text(r, "bundle");
  if (spec.bundle.empty()) {
    spec.integration = text(r, "integration");
    spec.resource_type = text(r, "resource_type");
    for (const auto& v : r.at("resources").as_array()) spec.resources.emplace_back(v.as_string());
    for (const auto& v : r.at("permissions").as_array())
      spec.permissions.emplace_back(v.as_string());
  }
  spec.justification = o.justification;
  spec.duration = o.duration;
  finish(r, spec, fmt, !o.no_wait, timeout, streams);
}

CLI::App* add_id_command(CLI::App& parent, const char* name, const char* help, id_options& o,
                         bool with_output = true) {
  auto* cmd = parent.add_subcommand(name, help);
  cmd->add_option("id", o.id, "request id, e.g. AR-00012")->required();
  if (with_output)
    cmd->add_option("-o,--output", o.output, "table, json or yaml")->capture_default_str();
  return cmd;
}

}  // namespace

void setup_requests(CLI::App& app, global_options& g, io& streams) {
  auto req = std::make_shared<create_options>();
  auto* request = app.add_subcommand("request", "request access (same as `requests create`)");
  add_create_options(request, *req);
  request->callback([req, &g, &streams] { run_create(*req, g, streams); });

  auto* requests = app.add_subcommand("requests", "list, create, describe and revoke requests");
  requests->require_subcommand(0, 1);
  auto lst = std::make_shared<list_options>();
  add_list_options(requests, *lst);
  // Runs after any subcommand's callback; alone, `apono requests` lists.
  requests->callback([requests, lst, &g, &streams] {
    if (requests->get_subcommands().empty()) run_list(*lst, g, streams);
  });

  auto crt = std::make_shared<create_options>();
  auto* create = requests->add_subcommand("create", "request access");
  add_create_options(create, *crt);
  create->callback([crt, &g, &streams] { run_create(*crt, g, streams); });

  auto* list = requests->add_subcommand("list", "list your requests, newest first");
  add_list_options(list, *lst);
  list->callback([lst, &g, &streams] { run_list(*lst, g, streams); });

  auto desc = std::make_shared<id_options>();
  add_id_command(*requests, "describe", "show a request and each of its access units", *desc)
      ->callback([desc, &g, &streams] {
        auto fmt = parse_format(desc->output);
        auto r = connect(g).get(request_path(desc->id));
        if (fmt == format::table)
          print_description(streams.out, r);
        else
          print_result(streams.out, fmt, r, {}, "");
      });

  auto rev = std::make_shared<id_options>();
  auto* revoke = add_id_command(*requests, "revoke", "end a request's access now", *rev);
  revoke->add_flag("--wait", rev->wait, "wait until the access is removed at the target");
  revoke->add_option("--reason", rev->reason, "why, for the audit log");
  revoke->add_option("--timeout", rev->timeout, "seconds to wait with --wait")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  revoke->callback([rev, &g, &streams] { run_revoke(*rev, g, streams); });

  auto agn = std::make_shared<id_options>();
  auto* again =
      add_id_command(*requests, "again", "request the same access again as a new request", *agn);
  again->add_option("-j,--justification", agn->justification, "why you need this access");
  again->add_option("-d,--duration", agn->duration,
                    "how long once granted: hours (0.75) or 90s, 45m, 1h30m");
  again->add_flag("--no-wait", agn->no_wait, "return once created, without waiting");
  again->add_option("--timeout", agn->timeout, "seconds to wait for the grant")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  again->callback([agn, &g, &streams] { run_again(*agn, g, streams); });

  auto apr = std::make_shared<id_options>();
  add_id_command(app, "approve", "approve a pending request you may approve", *apr)
      ->callback([apr, &g, &streams] {
        auto fmt = parse_format(apr->output);
        auto r = connect(g).post(request_path(apr->id, "approve"));
        print_action(r, fmt, "Approved " + text(r, "id") + "; it is now " + text(r, "status"),
                     streams);
      });

  auto rej = std::make_shared<id_options>();
  auto* reject = add_id_command(app, "reject", "reject a pending request you may approve", *rej);
  reject->add_option("--reason", rej->reason, "why (required; the requester sees it)");
  reject->callback([rej, &g, &streams] {
    auto fmt = parse_format(rej->output);
    if (rej->reason.find_first_not_of(" \t\n") == std::string::npos)
      throw usage_error("--reason is required: tell the requester why");
    auto r =
        connect(g).post(request_path(rej->id, "reject"), json::object{{"reason", rej->reason}});
    print_action(r, fmt, "Rejected " + text(r, "id") + "; it is now " + text(r, "status"), streams);
  });
}

}  // namespace apono::cli
