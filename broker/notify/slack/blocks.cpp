// Block Kit for the Slack channel. Every text a reader or a requester typed is escaped, and
// every text is cut to its block's limit (section 3,000, field 2,000, header 150, button 75),
// so no notification is refused by Slack as `invalid_blocks`.
#include "broker/notify/slack/blocks.hpp"

#include <algorithm>

namespace apono::broker::notify::slack_blocks {

namespace json = boost::json;

namespace {

constexpr std::size_t section_max = 3000;
constexpr std::size_t field_max = 2000;
constexpr std::size_t header_max = 150;
constexpr std::size_t max_fields = 10;

// `s` cut to at most `max` bytes (Slack counts characters, never more than bytes), on a UTF-8
// boundary and never inside an escape such as `&amp;`, with an ellipsis when cut.
std::string cut(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t end = max - 3;  // room for the ellipsis (3 bytes in UTF-8)
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  s.resize(end);
  if (auto amp = s.rfind('&'); amp != std::string::npos && s.find(';', amp) == std::string::npos)
    s.resize(amp);
  return s + "\u2026";
}

json::object plain(std::string text, std::size_t max) {
  return {{"type", "plain_text"}, {"text", cut(std::move(text), max)}, {"emoji", true}};
}

json::object mrkdwn(std::string text, std::size_t max) {
  return {{"type", "mrkdwn"}, {"text", cut(std::move(text), max)}};
}

json::object header(const std::string& text) {
  return {{"type", "header"}, {"text", plain(text, header_max)}};
}

json::object section(std::string text) {
  return {{"type", "section"}, {"text", mrkdwn(std::move(text), section_max)}};
}

json::object context(std::string text) {
  return {{"type", "context"}, {"elements", json::array{mrkdwn(std::move(text), section_max)}}};
}

json::object button(std::string_view label, std::string_view action_id, const std::string& value,
                    const char* style = nullptr) {
  json::object b{{"type", "button"},
                 {"text", plain(std::string(label), 75)},
                 {"action_id", action_id},
                 {"value", cut(value, 2000)}};
  if (style) b["style"] = style;
  return b;
}

std::string fact(const notice& n, std::string_view title) {
  for (const auto& [t, v] : n.facts)
    if (t == title) return v;
  return {};
}

// What is asked for: `read_write on appdb`, or the bundle.
std::string what(const notice& n) {
  if (auto b = fact(n, "Bundle"); !b.empty()) return "the bundle " + b;
  return fact(n, "Permissions") + " on " + fact(n, "Resources");
}

std::string joined_lines(const notice& n) {
  std::string out;
  for (const auto& l : n.lines) {
    if (!out.empty()) out += " ";
    out += escape(l);
  }
  return out;
}

// The request's facts as a section's fields, two columns, at most ten; the justification and
// the reason, which can be long, get sections of their own.
json::object facts_section(const notice& n, std::initializer_list<std::string_view> titles) {
  json::array fields;
  for (auto title : titles) {
    auto v = fact(n, title);
    if (v.empty() || fields.size() == max_fields) continue;
    fields.push_back(mrkdwn("*" + std::string(title) + "*\n" + escape(v), field_max));
  }
  if (fields.empty()) return section(escape(n.title));
  return {{"type", "section"}, {"fields", std::move(fields)}};
}

void add_quoted(json::array& blocks, const notice& n, std::string_view title) {
  auto v = fact(n, title);
  if (v.empty()) return;
  std::string quoted = "*" + std::string(title) + "*\n>";
  for (char c : escape(v)) {
    quoted += c;
    if (c == '\n') quoted += '>';
  }
  blocks.push_back(section(std::move(quoted)));
}

// The CLI commands and the portal link, small, under the message.
void add_commands(json::array& blocks, const notice& n) {
  std::string text;
  for (const auto& c : n.commands) {
    if (!text.empty()) text += "   ";
    text += escape(c.label) + ": `" + escape(c.command) + "`";
  }
  if (!n.link.empty()) {
    if (!text.empty()) text += "   ";
    text += "<" + escape(n.link) + "|Open in the portal>";
  }
  if (!text.empty()) blocks.push_back(context(std::move(text)));
}

std::string title_of(const notice& n) {
  return "Access request " + n.request_id;
}

// The requester's view of the status after event `n.type`.
std::string status_line(const notice& n) {
  const auto& t = n.type;
  const auto status = fact(n, "Status");
  if (t == "request.created" || t == "request.pending_approval" || t == "request.reminder")
    return status == "PENDING" ? ":hourglass_flowing_sand: *Waiting for approval*"
                               : ":gear: *Approved*, access is being granted";
  if (t == "request.approved") return ":gear: *Approved*, access is being granted";
  if (t == "request.rejected") return ":x: *Rejected*";
  if (t == "request.active" || t == "request.expiring_soon")
    return ":white_check_mark: *Active* until " + escape(fact(n, "Ends at"));
  if (t == "request.expired") return ":stopwatch: *Expired*";
  if (t == "request.revoked")
    return status == "REVOKED" ? ":leftwards_arrow_with_hook: *Withdrawn*" : ":no_entry: *Revoked*";
  if (t == "request.failed") return ":warning: *Failed*";
  return "*" + escape(status) + "*";
}

}  // namespace

message approval_request(const notice& n) {
  message m;
  m.text = n.title;
  m.blocks.push_back(header(title_of(n)));
  m.blocks.push_back(section(joined_lines(n)));
  m.blocks.push_back(facts_section(n, {"Requester", "Integration", "Resources", "Permissions",
                                       "Bundle", "Duration", "Access flow"}));
  add_quoted(m.blocks, n, "Justification");
  m.blocks.push_back(json::object{
      {"type", "actions"},
      {"block_id", "apono_decision"},
      {"elements", json::array{button("Approve", approve_action, n.request_id, "primary"),
                               button("Reject", reject_action, n.request_id, "danger")}}});
  add_commands(m.blocks, n);
  return m;
}

message approval_outcome(const notice& n) {
  const auto by = fact(n, "By");
  const auto requester = fact(n, "Requester");
  std::string outcome;
  if (n.type == "request.approved") {
    outcome = ":white_check_mark: *Approved*" + (by.empty() ? "" : " by *" + escape(by) + "*");
  } else if (n.type == "request.rejected") {
    outcome = ":x: *Rejected*" + (by.empty() ? "" : " by *" + escape(by) + "*");
  } else if (n.type == "request.revoked") {
    outcome = ":leftwards_arrow_with_hook: *Withdrawn*" +
              (by.empty() ? " by its requester, *" + escape(requester) + "*"
                          : " by *" + escape(by) + "*");
  } else if (n.type == "request.failed") {
    outcome = ":warning: *Failed*";
  } else {
    outcome = "*" + escape(fact(n, "Status")) + "*";
  }
  message m;
  m.text = n.request_id + ": " + outcome;
  m.blocks.push_back(header(title_of(n)));
  m.blocks.push_back(
      section(outcome + "\n" + escape(requester) + " asked for " + escape(what(n)) + "."));
  m.blocks.push_back(facts_section(n, {"Requester", "Integration", "Resources", "Permissions",
                                       "Bundle", "Duration", "Access flow"}));
  add_quoted(m.blocks, n, "Justification");
  add_quoted(m.blocks, n, "Reason");
  if (!n.link.empty()) m.blocks.push_back(context("<" + escape(n.link) + "|Open in the portal>"));
  return m;
}

message requester_status(const notice& n) {
  message m;
  const auto status = status_line(n);
  m.text = n.title;
  m.blocks.push_back(header(title_of(n) + ": " + what(n)));
  m.blocks.push_back(section(status + "\n" + joined_lines(n)));
  m.blocks.push_back(facts_section(n, {"Integration", "Resources", "Permissions", "Bundle",
                                       "Duration", "Access flow", "Ends at", "By"}));
  add_quoted(m.blocks, n, "Justification");
  add_quoted(m.blocks, n, "Reason");
  json::array buttons;
  if (n.type == "request.active" || n.type == "request.expiring_soon") {
    buttons.push_back(button("Access details", details_action, n.request_id, "primary"));
    auto revoke = button("Revoke", revoke_action, n.request_id, "danger");
    revoke["confirm"] =
        json::object{{"title", plain("Revoke " + n.request_id + "?", 100)},
                     {"text", plain("Your access ends now and its sessions are closed.", 300)},
                     {"confirm", plain("Revoke", 30)},
                     {"deny", plain("Keep it", 30)},
                     {"style", "danger"}};
    buttons.push_back(std::move(revoke));
  } else if (n.type == "request.expired" || n.type == "request.revoked" ||
             n.type == "request.rejected") {
    buttons.push_back(button("Request again", request_again_action, n.request_id));
  }
  if (!buttons.empty())
    m.blocks.push_back(json::object{
        {"type", "actions"}, {"block_id", "apono_request"}, {"elements", std::move(buttons)}});
  add_commands(m.blocks, n);
  return m;
}

message thread_reply(const notice& n) {
  message m;
  m.text = n.title;
  std::string text = status_line(n) + "\n" + joined_lines(n);
  if (auto reason = fact(n, "Reason"); !reason.empty()) text += "\n*Reason:* " + escape(reason);
  if (auto by = fact(n, "By"); !by.empty() && n.type != "request.active")
    text += "\n*By:* " + escape(by);
  m.blocks.push_back(section(std::move(text)));
  add_commands(m.blocks, n);
  return m;
}

}  // namespace apono::broker::notify::slack_blocks
