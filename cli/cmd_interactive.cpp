// `apono` with no arguments: the interactive flow of the Apono CLI docs. "What do you want to
// do?" leads either through the catalog to a request (ending with the command that repeats
// it) or to one of the caller's active grants (instructions, or how to connect).
#include <unistd.h>

#include <boost/json.hpp>

#include <chrono>
#include <ctime>
#include <ostream>

#include "cli/api_client.hpp"
#include "cli/commands.hpp"
#include "cli/instructions.hpp"
#include "cli/output.hpp"
#include "cli/prompt.hpp"
#include "cli/request_flow.hpp"
#include "common/duration.hpp"
#include "common/time.hpp"

namespace apono::cli {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// How long the flow waits for a grant before printing what it has; automatic flows answer in
// well under a second, so this only bounds a stuck broker.
constexpr auto grant_timeout = 60s;

const json::array& list(const json::value& v) {
  return v.as_array();
}

std::string ask_duration() {
  return ask_text("Duration in hours", "1", [](const std::string& v) {
    return common::parse_duration(v)
               ? std::string()
               : "not a duration: use hours (0.75) or 90s, 45m, 1h30m, up to 366 days";
  });
}

std::string ask_justification() {
  return ask_text("Justification", "", [](const std::string& v) {
    return v.empty() ? std::string("say why you need this access") : std::string();
  });
}

// Like `apono request`: the result block, then a failure when the request cannot be used, so
// the exit status tells a script (or a person) the same as the flags would.
int submit_and_print(api_client& api, const request_spec& spec, io& streams) {
  auto r = submit_request(api, spec, true, grant_timeout, streams);
  print_request_result(streams.out, r, spec);
  auto id = text(r, "id"), status = text(r, "status");
  if (status == "FAILED" || status == "REJECTED") {
    auto why = text(r, "reason");
    throw std::runtime_error(id + " is " + status + (why.empty() ? "" : ": " + why));
  }
  if (status == "GRANTING")
    throw std::runtime_error(id + " is still GRANTING after " +
                             std::to_string(grant_timeout.count()) +
                             "s: check it with `apono requests describe " + id + "`");
  return 0;
}

int request_by_integration(api_client& api, io& streams) {
  auto integrations = api.get("/api/v1/integrations");
  if (list(integrations).empty())
    throw std::runtime_error("you may request no integration: ask an admin for an access flow");
  std::vector<std::string> labels;
  for (const auto& i : list(integrations))
    labels.push_back(text(i, "name") + " (" + text(i, "type") + ")");
  const auto& integ = list(integrations).at(select_one("Integration", labels));
  const auto integ_id = text(integ, "id");

  auto types = api.get("/api/v1/integrations/" + url_encode(integ_id) + "/resource-types");
  if (list(types).empty()) throw std::runtime_error(integ_id + " has no resource types");
  labels.clear();
  for (const auto& t : list(types)) labels.push_back(text(t, "name"));
  const auto type_id = text(list(types).at(select_one("Resource type", labels)), "id");

  const auto query =
      "?integration=" + url_encode(integ_id) + "&resource_type=" + url_encode(type_id);
  auto pick_names = [&](const std::string& what, const std::string& title) {
    auto all = api.get("/api/v1/" + what + query);
    if (list(all).empty())
      throw std::runtime_error("you may request no " + what + " of " + integ_id + " " + type_id);
    std::vector<std::string> names;
    for (const auto& x : list(all)) names.push_back(text(x, "name"));
    std::vector<std::string> picked;
    for (auto i : select_many(title, names)) picked.push_back(names[i]);
    return picked;
  };

  request_spec spec;
  spec.integration = integ_id;
  spec.resource_type = type_id;
  spec.resources = pick_names("resources", "Resources");
  spec.permissions = pick_names("permissions", "Permissions");
  spec.duration = ask_duration();
  spec.justification = ask_justification();
  return submit_and_print(api, spec, streams);
}

int request_bundle(api_client& api, io& streams) {
  auto bundles = api.get("/api/v1/bundles");
  if (list(bundles).empty()) throw std::runtime_error("you may request no bundle");
  std::vector<std::string> labels;
  for (const auto& b : list(bundles)) labels.push_back(text(b, "name"));
  request_spec spec;
  spec.bundle = labels.at(select_one("Bundle", labels));
  spec.justification = ask_justification();
  spec.duration = ask_duration();
  return submit_and_print(api, spec, streams);
}

// `9m`, `1h30m`, `45s`: whole minutes once there is more than one, as the list is a glance.
std::string ends_in(const std::string& ends_at) {
  auto end = common::parse_rfc3339(ends_at);
  if (!end) return "?";
  auto left = std::chrono::duration_cast<std::chrono::seconds>(*end - common::system_clock{}.now());
  if (left <= 0s) return "ending";
  if (left >= 1min) left = std::chrono::duration_cast<std::chrono::minutes>(left);
  return common::format_duration(left);
}

std::string session_label(const json::value& s) {
  auto what = text(s, "integration");
  if (what.empty()) what = text(s, "bundle");
  return text(s, "request_id") + " " + what + " " + join(s.at("resources"), ", ") + " (ends in " +
         ends_in(text(s, "ends_at")) + ")";
}

int connect_to_resource(const global_options& g, api_client& api, io& streams) {
  auto sessions = api.get("/api/v1/access-sessions");
  if (list(sessions).empty()) {
    streams.out << "You have no active access. Request new access first.\n";
    return 0;
  }
  std::vector<std::string> labels;
  for (const auto& s : list(sessions)) labels.push_back(session_label(s));
  const auto id = text(list(sessions).at(select_one("Access", labels)), "request_id");
  if (select_one("Connect or show instructions?", {"Connect", "Instructions"}) == 0)
    return run_access_connect(g, id);
  print_instructions(streams.out,
                     api.get("/api/v1/access-sessions/" + url_encode(id) + "/access-details"));
  return 0;
}

}  // namespace

int run_interactive(const global_options& g, io& streams) {
  if (!::isatty(0)) {
    streams.err << "Error: no terminal: use flags, for example apono request -i INTEGRATION -r "
                   "RESOURCE -p PERMISSION -j JUSTIFICATION\n";
    return 2;
  }
  auto api = connect(g);
  try {
    if (select_one("What do you want to do?", {"Request new access", "Connect to a resource"}) == 1)
      return connect_to_resource(g, api, streams);
    if (select_one("Request by", {"Integration", "Bundle"}) == 1)
      return request_bundle(api, streams);
    return request_by_integration(api, streams);
  } catch (const prompt_aborted&) {
    streams.err << "Aborted.\n";
    return 130;
  }
}

}  // namespace apono::cli
