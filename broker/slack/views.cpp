// Messages and modals of the Slack app other than the request form.
#include "broker/slack/views.hpp"

#include <chrono>

#include "broker/slack/blocks.hpp"
#include "common/duration.hpp"

namespace apono::broker::slack {

namespace json = boost::json;
using common::status;

namespace {

std::string id_of(const common::access_request& r) {
  return common::format_request_id(r.id);
}

// Slack renders `<!date^EPOCH^{date_short_pretty} {time}|fallback>` in the reader's time zone.
std::string slack_date(common::time_point t) {
  const auto epoch = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  return "<!date^" + std::to_string(epoch) + "^{date_short_pretty} {time}|" +
         common::format_rfc3339(t) + ">";
}

std::string meta(const common::access_request& r, std::string_view channel) {
  return json::serialize(json::object{{"request_id", id_of(r)}, {"channel", channel}});
}

json::object text_input(std::string_view action_id, std::string_view placeholder, bool multiline,
                        std::string_view initial = {}) {
  json::object e{{"type", "plain_text_input"},
                 {"action_id", action_id},
                 {"placeholder", blocks::plain(placeholder, blocks::limits::placeholder)}};
  if (multiline) {
    e["multiline"] = true;
    e["max_length"] = 3000;
  }
  if (!initial.empty()) e["initial_value"] = blocks::truncate(initial, 3000);
  return e;
}

std::string summary(const common::access_request& r) {
  return "*" + id_of(r) + "* · " + blocks::escape(describe_units(r)) + " · " +
         common::format_duration(r.duration);
}

}  // namespace

std::string describe_units(const common::access_request& r, std::size_t max) {
  if (!r.bundle.empty() && r.units.size() > max) return "bundle " + r.bundle;
  std::string out;
  std::size_t n = 0;
  for (const auto& u : r.units) {
    if (n++ == max) {
      out += " and " + std::to_string(r.units.size() - max) + " more";
      break;
    }
    out += (out.empty() ? "" : ", ") + u.permission + " on " + u.integration + "/" + u.resource;
  }
  return out;
}

std::string time_left(const common::access_request& r, common::time_point now) {
  if (r.state != status::active || !r.ends_at) return {};
  if (*r.ends_at <= now) return "ended";
  auto left = std::chrono::duration_cast<std::chrono::seconds>(*r.ends_at - now);
  // Minutes are what a person plans with; the seconds are noise.
  if (left >= std::chrono::minutes{1})
    left = std::chrono::duration_cast<std::chrono::minutes>(left);
  return common::format_duration(left) + " left";
}

json::object help_message(std::string_view error) {
  json::array b;
  if (!error.empty()) b.push_back(blocks::section(":warning: " + std::string(error)));
  b.push_back(blocks::section(
      "*apono* — just-in-time access from Slack\n"
      "• `/apono request` — open the Request Access form (integration, resources, permissions, "
      "duration, justification, or a bundle)\n"
      "• `/apono my requests` — your active requests and those of the last 7 days\n"
      "• `/apono help` — this help\n"
      "Approvers get a direct message with *Approve* and *Reject* for each request they may "
      "approve; requesters get a message whose thread follows the request, with *Access "
      "details*, *Revoke* and *Request again*."));
  auto m = blocks::message(error.empty() ? "apono help" : std::string(error), std::move(b));
  m["response_type"] = "ephemeral";
  return m;
}

json::object ephemeral(std::string_view text) {
  auto m = blocks::message(text, json::array{blocks::section(text)});
  m["response_type"] = "ephemeral";
  m["replace_original"] = false;
  return m;
}

json::object my_requests_message(const std::vector<common::access_request>& requests,
                                 common::time_point now) {
  json::array b;
  b.push_back(blocks::header("Your requests"));
  if (requests.empty())
    b.push_back(
        blocks::section("No active requests and none in the last 7 days. `/apono "
                        "request` opens the form."));
  std::size_t shown = 0;
  for (const auto& r : requests) {
    // A header, a section per request and a closing note fit in one message.
    if (shown == blocks::limits::message_blocks - 3) break;
    ++shown;
    std::string line = summary(r) + "\n`" + std::string(common::to_string(r.state)) + "`";
    if (auto left = time_left(r, now); !left.empty())
      line += " · " + left + " (until " + slack_date(*r.ends_at) + ")";
    else
      line += " · requested " + slack_date(r.created_at);
    if (!r.decided_by.empty() && r.decided_by != "automatic")
      line += " · decided by " + blocks::escape(r.decided_by);
    if (!r.reason.empty()) line += "\n_" + blocks::escape(blocks::truncate(r.reason, 300)) + "_";
    b.push_back(blocks::section(line));
  }
  if (shown < requests.size())
    b.push_back(blocks::context(std::to_string(requests.size() - shown) +
                                " more: `apono requests list --days 7`"));
  auto m = blocks::message("Your requests: " + std::to_string(requests.size()), std::move(b));
  m["response_type"] = "ephemeral";
  return m;
}

json::object created_message(const common::access_request& r, std::string_view cli_command) {
  std::string what;
  if (r.state == status::pending)
    what = "waiting for approval (access flow *" + blocks::escape(r.flow) + "*)";
  else if (r.automatic)
    what = "approved automatically (access flow *" + blocks::escape(r.flow) +
           "*); access is being granted";
  else
    what = std::string(common::to_string(r.state));
  json::array b;
  b.push_back(blocks::section(":white_check_mark: Requested " + summary(r) + "\n" + what + "."));
  b.push_back(
      blocks::context("The same request from the CLI:\n```" + blocks::escape(cli_command) + "```"));
  auto m = blocks::message(id_of(r) + ": " + what, std::move(b));
  m["response_type"] = "ephemeral";
  return m;
}

json::object reject_modal(const common::access_request& r, std::string_view channel) {
  json::array b;
  b.push_back(blocks::section("Reject " + summary(r) + " requested by *" +
                              blocks::escape(r.requester) + "*?\n>" +
                              blocks::escape(blocks::truncate(r.justification, 500))));
  b.push_back(blocks::input("reason", "Reason (the requester sees it)",
                            text_input("reason", "Why the access is refused", true)));
  return blocks::modal("Reject " + id_of(r), reject_callback, std::move(b), meta(r, channel),
                       "Reject", "Cancel");
}

json::object again_modal(const common::access_request& r, std::string_view channel) {
  json::array b;
  b.push_back(blocks::section("Request " + summary(r) + " again (was `" +
                              std::string(common::to_string(r.state)) + "`)."));
  b.push_back(blocks::input("justification", "New justification",
                            text_input("justification", "Why you need this access now", true)));
  b.push_back(blocks::input(
      "duration", "Duration", text_input("duration", "Hours, e.g. 1 or 0.5 (or 90m, 1h30m)", false),
      false, true, "Empty: " + common::format_duration(r.duration) + " as before."));
  return blocks::modal("Request again", again_callback, std::move(b), meta(r, channel), "Request",
                       "Cancel");
}

json::object details_modal(const common::access_request& r, const common::access_details& d) {
  json::array b;
  b.push_back(blocks::section("*" + id_of(r) + "* is `ACTIVE` until " + slack_date(d.ends_at) +
                              ".\nConnect with the CLI (it fetches the credentials itself; "
                              "Slack never shows a password):\n```apono access connect " +
                              id_of(r) + "```"));
  std::size_t shown = 0;
  for (const auto& u : d.units) {
    if (shown++ == 20) break;
    std::vector<std::string> f;
    f.push_back("*Unit*\n" +
                blocks::escape(u.permission + " on " + u.integration + "/" + u.resource));
    if (!u.host.empty()) f.push_back("*Host*\n`" + blocks::escape(u.host) + "`");
    if (u.port) f.push_back("*Port*\n`" + std::to_string(u.port) + "`");
    if (!u.database.empty()) f.push_back("*Database*\n`" + blocks::escape(u.database) + "`");
    // A cloud unit's username is an access key id: a credential, left to the CLI.
    if (!u.username.empty() && (u.type == "postgresql" || u.type == "ssh"))
      f.push_back("*User*\n`" + blocks::escape(u.username) + "`");
    if (!u.principal.empty()) f.push_back("*Principal*\n`" + blocks::escape(u.principal) + "`");
    if (!u.sslmode.empty()) f.push_back("*sslmode*\n`" + blocks::escape(u.sslmode) + "`");
    if (!u.region.empty()) f.push_back("*Region*\n`" + blocks::escape(u.region) + "`");
    if (!u.server.empty()) f.push_back("*Server*\n`" + blocks::escape(u.server) + "`");
    if (!u.role.empty()) f.push_back("*Role*\n`" + blocks::escape(u.role) + "`");
    b.push_back(blocks::fields(f));
  }
  b.push_back(blocks::context("Other ways: `apono access proxy " + id_of(r) +
                              "` for GUI tools, `apono access use " + id_of(r) +
                              "` for the credentials in a terminal."));
  return blocks::modal("Access details", details_callback, std::move(b));
}

modal_meta read_meta(const json::object& view) {
  modal_meta m;
  auto it = view.find("private_metadata");
  if (it == view.end() || !it->value().is_string()) return m;
  boost::system::error_code ec;
  auto v = json::parse(it->value().get_string(), ec);
  if (ec || !v.is_object()) return m;
  const auto& o = v.get_object();
  if (auto x = o.find("request_id"); x != o.end() && x->value().is_string())
    m.request_id = std::string(x->value().get_string());
  if (auto x = o.find("channel"); x != o.end() && x->value().is_string())
    m.channel = std::string(x->value().get_string());
  return m;
}

}  // namespace apono::broker::slack
