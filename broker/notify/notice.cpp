// The wording of each event, from the body's fields.
#include "broker/notify/notice.hpp"

#include <boost/json.hpp>

#include <functional>

#include "common/duration.hpp"

namespace apono::broker::notify {

namespace json = boost::json;

namespace {

std::string text(const json::object& d, std::string_view key) {
  auto* v = d.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string joined(const json::object& d, std::string_view key) {
  std::string out;
  auto* v = d.if_contains(key);
  if (!v || !v->is_array()) return out;
  for (const auto& x : v->as_array()) {
    if (!x.is_string()) continue;
    if (!out.empty()) out += ", ";
    out += x.as_string();
  }
  return out;
}

// `2026-12-06T16:04:05.123Z` as `2026-12-06 16:04 UTC`: what a reader scans for.
std::string readable_time(const std::string& rfc3339) {
  if (rfc3339.size() < 16 || rfc3339[10] != 'T') return rfc3339;
  return rfc3339.substr(0, 10) + " " + rfc3339.substr(11, 5) + " UTC";
}

std::string readable_duration(const json::object& d) {
  auto* v = d.if_contains("duration_seconds");
  if (!v || !v->is_int64()) return {};
  return common::format_duration(std::chrono::seconds{v->as_int64()});
}

// `read_write on appdb`, or the bundle's name.
std::string what_of(const json::object& d) {
  if (auto bundle = text(d, "bundle"); !bundle.empty()) return "the bundle " + bundle;
  return joined(d, "permissions") + " on " + joined(d, "resources");
}

std::string by_whom(const json::object& d) {
  const auto actor = text(d, "actor");
  if (actor == "automatic") return "automatically by its access flow";
  if (actor == "system" || actor.empty()) return "by apono";
  return "by " + actor;
}

void approver_commands(notice& n) {
  n.commands = {{"Approve", "apono approve " + n.request_id},
                {"Reject", "apono reject " + n.request_id + " --reason REASON"}};
}

// Per event type: the title and sentences, and any commands. An event not listed gets a plain
// notice naming its type (nothing is lost, the wording is generic).
using wording = std::function<void(notice&, const json::object&)>;

const std::vector<std::pair<std::string_view, wording>>& wordings() {
  static const std::vector<std::pair<std::string_view, wording>> table = {
      {"request.created",
       [](notice& n, const json::object& d) {
         n.title = n.request_id + " was requested: " + what_of(d);
         n.lines = {text(d, "requester") + " asked for " + what_of(d) + "."};
       }},
      {"request.pending_approval",
       [](notice& n, const json::object& d) {
         n.title = n.request_id + " waits for your approval: " + text(d, "requester") +
                   " asks for " + what_of(d);
         n.lines = {text(d, "requester") + " asks for " + what_of(d) + " for " +
                    readable_duration(d) + ". You are one of its approvers."};
         approver_commands(n);
       }},
      {"request.reminder",
       [](notice& n, const json::object& d) {
         n.title = "Reminder: " + n.request_id + " still waits for your approval";
         n.lines = {text(d, "requester") + " still waits for " + what_of(d) +
                    ". Nobody has decided yet; you are one of its approvers."};
         approver_commands(n);
       }},
      {"request.approved",
       [](notice& n, const json::object& d) {
         n.title = "Your request " + n.request_id + " was approved";
         n.lines = {"Your request for " + what_of(d) + " was approved " + by_whom(d) +
                    ". Access is being granted; you will be told when it is active."};
       }},
      {"request.rejected",
       [](notice& n, const json::object& d) {
         n.title = "Your request " + n.request_id + " was rejected";
         n.lines = {"Your request for " + what_of(d) + " was rejected " + by_whom(d) + "."};
       }},
      {"request.active",
       [](notice& n, const json::object& d) {
         const auto ends = readable_time(text(d, "ends_at"));
         n.title = "Your access " + n.request_id + " is active until " + ends;
         n.lines = {"You have " + what_of(d) + " until " + ends + "."};
         n.commands = {{"Connect", "apono access connect " + n.request_id},
                       {"Connection details", "apono access-details " + n.request_id}};
       }},
      {"request.expiring_soon",
       [](notice& n, const json::object& d) {
         const auto ends = readable_time(text(d, "ends_at"));
         n.title = "Your access " + n.request_id + " ends at " + ends;
         n.lines = {"Your access to " + what_of(d) + " ends at " + ends +
                    ". To keep it, request it again."};
         n.commands = {{"Request it again", "apono requests again " + n.request_id}};
       }},
      {"request.expired",
       [](notice& n, const json::object& d) {
         n.title = "Your access " + n.request_id + " has expired";
         n.lines = {"Your access to " + what_of(d) + " reached its end and is being removed."};
         n.commands = {{"Request it again", "apono requests again " + n.request_id}};
       }},
      {"request.revoked",
       [](notice& n, const json::object& d) {
         n.title = "Your access " + n.request_id + " was revoked";
         n.lines = {"Your access to " + what_of(d) + " was revoked " + by_whom(d) + "."};
       }},
      {"request.failed",
       [](notice& n, const json::object& d) {
         n.title = "Your request " + n.request_id + " failed";
         n.lines = {"Your request for " + what_of(d) + " could not be completed."};
       }},
      {"notification.test",
       [](notice& n, const json::object& d) {
         n.title = "A test notification from apono";
         n.lines = {"This is a test of the notification endpoint " + text(d, "endpoint") +
                    ", sent at the request of " + text(d, "requested_by") +
                    ". If you read this, it works."};
       }},
  };
  return table;
}

void add_fact(notice& n, std::string title, std::string value) {
  if (!value.empty()) n.facts.emplace_back(std::move(title), std::move(value));
}

}  // namespace

notice make_notice(std::string_view payload, const notifications_config& cfg) {
  notice n;
  boost::system::error_code ec;
  auto body = json::parse(payload, ec);
  const json::object* data = nullptr;
  if (!ec && body.is_object()) {
    n.type = text(body.as_object(), "type");
    auto* d = body.as_object().if_contains("data");
    if (d && d->is_object()) data = &d->as_object();
  }
  if (!data) {
    n.title = "An apono notification that could not be read";
    n.lines = {"The notification's body was not readable; see the broker's deliveries."};
    return n;
  }
  const auto& d = *data;
  n.request_id = text(d, "request_id");
  for (const auto& [type, word] : wordings())
    if (type == n.type) word(n, d);
  if (n.title.empty()) {
    n.title = (n.request_id.empty() ? std::string("apono") : n.request_id) + ": " + n.type;
    n.lines = {"Event " + n.type + "."};
  }
  if (!n.request_id.empty()) {
    add_fact(n, "Request", n.request_id);
    add_fact(n, "Requester", text(d, "requester"));
    add_fact(n, "Bundle", text(d, "bundle"));
    add_fact(n, "Integration", text(d, "integration"));
    add_fact(n, "Resources", joined(d, "resources"));
    add_fact(n, "Permissions", joined(d, "permissions"));
    add_fact(n, "Duration", readable_duration(d));
    add_fact(n, "Access flow", text(d, "access_flow"));
    add_fact(n, "Justification", text(d, "justification"));
    add_fact(n, "Status", text(d, "status"));
    add_fact(n, "Approvers", joined(d, "approvers"));
    if (auto ends = text(d, "ends_at"); !ends.empty()) add_fact(n, "Ends at", readable_time(ends));
    add_fact(n, "Reason", text(d, "reason"));
    // Who decided, where a person did: not the requester making it, not the broker's own steps.
    if (auto actor = text(d, "actor");
        actor != "system" && actor != "automatic" && actor != text(d, "requester"))
      add_fact(n, "By", actor);
    n.link = cfg.request_link(n.request_id);
  }
  return n;
}

}  // namespace apono::broker::notify
