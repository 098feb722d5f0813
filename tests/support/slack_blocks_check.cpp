// The Block Kit limits the Slack stand-in enforces, as Slack documents them
// (docs.slack.dev/reference/block-kit): a message or a modal that breaks one is refused, so a
// test sees what Slack would answer instead of a message that only renders in the stand-in.
#include "tests/support/slack_blocks_check.hpp"

#include <set>

namespace apono::test {
namespace {

namespace json = boost::json;

// Slack's error text: `[ERROR] <what> [json-pointer:<where>]`.
struct problem {
  std::string text;
};
[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw problem{"[ERROR] " + what + " [json-pointer:" + where + "]"};
}

const json::object& object_at(const json::value& v, const std::string& where) {
  if (!v.is_object()) fail(where, "must be an object");
  return v.as_object();
}

const json::value* field(const json::object& o, std::string_view key) {
  return o.if_contains(key);
}

std::string string_at(const json::object& o, std::string_view key, const std::string& where,
                      std::size_t max, bool required) {
  const auto* v = field(o, key);
  if (!v) {
    if (required) fail(where + "/" + std::string(key), "missing required field");
    return {};
  }
  if (!v->is_string()) fail(where + "/" + std::string(key), "must be a string");
  const std::string s(v->as_string());
  if (s.size() > max)
    fail(where + "/" + std::string(key),
         "must be less than " + std::to_string(max + 1) + " characters");
  return s;
}

// A text object: `{"type": "plain_text" | "mrkdwn", "text": ...}` of 1 to `max` characters.
void text_object(const json::value& v, const std::string& where, std::size_t max, bool plain_only) {
  const auto& o = object_at(v, where);
  const auto type = string_at(o, "type", where, 32, true);
  if (type != "plain_text" && (plain_only || type != "mrkdwn"))
    fail(where + "/type", plain_only ? "must be plain_text" : "must be plain_text or mrkdwn");
  const auto text = string_at(o, "text", where, max, true);
  if (text.empty()) fail(where + "/text", "must be more than 0 characters");
}

void option_list(const json::object& e, const std::string& where, std::size_t max_options) {
  const auto* opts = field(e, "options");
  if (!opts) {
    if (!field(e, "option_groups")) fail(where + "/options", "missing required field");
    return;
  }
  if (!opts->is_array()) fail(where + "/options", "must be an array");
  const auto& a = opts->as_array();
  if (a.empty() || a.size() > max_options)
    fail(where + "/options",
         "must provide between 1 and " + std::to_string(max_options) + " items");
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto w = where + "/options/" + std::to_string(i);
    const auto& o = object_at(a[i], w);
    text_object(o.at("text"), w + "/text", 75, false);
    string_at(o, "value", w, 150, true);
  }
}

// One element of an actions, section accessory or input block.
void element(const json::value& v, const std::string& where, std::set<std::string>& action_ids) {
  const auto& e = object_at(v, where);
  const auto type = string_at(e, "type", where, 64, true);
  const auto action_id = string_at(e, "action_id", where, 255, false);
  if (!action_id.empty() && !action_ids.insert(action_id).second)
    fail(where + "/action_id", "duplicate action_id '" + action_id + "' in a block");
  if (const auto* p = field(e, "placeholder")) text_object(*p, where + "/placeholder", 150, true);
  if (type == "button") {
    if (!field(e, "text")) fail(where + "/text", "missing required field");
    text_object(e.at("text"), where + "/text", 75, true);
    string_at(e, "value", where, 2000, false);
    string_at(e, "url", where, 3000, false);
    if (const auto* st = field(e, "style"))
      if (!st->is_string() || (st->as_string() != "primary" && st->as_string() != "danger"))
        fail(where + "/style", "must be primary or danger");
  } else if (type == "static_select" || type == "multi_static_select") {
    option_list(e, where, 100);
  } else if (type == "checkboxes" || type == "radio_buttons") {
    option_list(e, where, 10);
  } else if (type == "overflow") {
    option_list(e, where, 5);
  } else if (type == "plain_text_input") {
    string_at(e, "initial_value", where, 3000, false);
  } else if (type == "number_input") {
    const auto* d = field(e, "is_decimal_allowed");
    if (!d || !d->is_bool()) fail(where + "/is_decimal_allowed", "missing required field");
  } else if (type == "external_select" || type == "multi_external_select" ||
             type == "users_select" || type == "multi_users_select" ||
             type == "conversations_select" || type == "datepicker" || type == "timepicker" ||
             type == "image") {
    // Their own fields are not what aponod's messages depend on.
  } else {
    fail(where + "/type", "unsupported element type '" + type + "'");
  }
}

void block(const json::value& v, const std::string& where, std::set<std::string>& block_ids) {
  const auto& b = object_at(v, where);
  const auto type = string_at(b, "type", where, 64, true);
  const auto block_id = string_at(b, "block_id", where, 255, false);
  if (!block_id.empty() && !block_ids.insert(block_id).second)
    fail(where + "/block_id", "duplicate block_id '" + block_id + "'");
  std::set<std::string> action_ids;
  if (type == "section") {
    const auto* text = field(b, "text");
    const auto* fields = field(b, "fields");
    if (!text && !fields) fail(where, "must provide either text or fields");
    if (text) text_object(*text, where + "/text", 3000, false);
    if (fields) {
      if (!fields->is_array() || fields->as_array().size() > 10)
        fail(where + "/fields", "must provide at most 10 items");
      for (std::size_t i = 0; i < fields->as_array().size(); ++i)
        text_object(fields->as_array()[i], where + "/fields/" + std::to_string(i), 2000, false);
    }
    if (const auto* acc = field(b, "accessory")) element(*acc, where + "/accessory", action_ids);
  } else if (type == "header") {
    if (!field(b, "text")) fail(where + "/text", "missing required field");
    text_object(b.at("text"), where + "/text", 150, true);
  } else if (type == "divider") {
  } else if (type == "context") {
    const auto* els = field(b, "elements");
    if (!els || !els->is_array() || els->as_array().empty() || els->as_array().size() > 10)
      fail(where + "/elements", "must provide between 1 and 10 items");
    for (std::size_t i = 0; i < els->as_array().size(); ++i) {
      const auto w = where + "/elements/" + std::to_string(i);
      const auto& e = object_at(els->as_array()[i], w);
      if (e.contains("text")) text_object(e, w, 3000, false);
    }
  } else if (type == "actions") {
    const auto* els = field(b, "elements");
    if (!els || !els->is_array() || els->as_array().empty() || els->as_array().size() > 25)
      fail(where + "/elements", "must provide between 1 and 25 items");
    for (std::size_t i = 0; i < els->as_array().size(); ++i)
      element(els->as_array()[i], where + "/elements/" + std::to_string(i), action_ids);
  } else if (type == "input") {
    if (!field(b, "label")) fail(where + "/label", "missing required field");
    text_object(b.at("label"), where + "/label", 2000, true);
    if (!field(b, "element")) fail(where + "/element", "missing required field");
    element(b.at("element"), where + "/element", action_ids);
    if (const auto* hint = field(b, "hint")) text_object(*hint, where + "/hint", 2000, true);
  } else if (type == "image") {
    string_at(b, "image_url", where, 3000, true);
    string_at(b, "alt_text", where, 2000, true);
  } else {
    fail(where + "/type", "unsupported block type '" + type + "'");
  }
}

void blocks_of(const json::array& blocks, bool modal) {
  const std::size_t max = modal ? 100 : 50;
  if (blocks.size() > max)
    fail("/blocks", "no more than " + std::to_string(max) + " items allowed");
  std::set<std::string> block_ids;
  for (std::size_t i = 0; i < blocks.size(); ++i)
    block(blocks[i], "/blocks/" + std::to_string(i), block_ids);
}

}  // namespace

std::optional<std::string> slack_block_problem(const json::array& blocks, bool modal) {
  try {
    blocks_of(blocks, modal);
  } catch (const problem& p) {
    return p.text;
  } catch (const std::exception& e) {  // json::object::at on a missing key
    return std::string("[ERROR] ") + e.what();
  }
  return std::nullopt;
}

std::optional<std::string> slack_view_problem(const json::object& view) {
  try {
    const auto type = string_at(view, "type", "/view", 16, true);
    if (type != "modal") fail("/view/type", "must be modal");
    if (!field(view, "title")) fail("/view/title", "missing required field");
    text_object(view.at("title"), "/view/title", 24, true);
    bool has_input = false;
    if (const auto* s = field(view, "submit")) text_object(*s, "/view/submit", 24, true);
    if (const auto* c = field(view, "close")) text_object(*c, "/view/close", 24, true);
    string_at(view, "callback_id", "/view", 255, false);
    string_at(view, "private_metadata", "/view", 3000, false);
    string_at(view, "external_id", "/view", 255, false);
    const auto* blocks = field(view, "blocks");
    if (!blocks || !blocks->is_array()) fail("/view/blocks", "missing required field");
    for (const auto& b : blocks->as_array())
      if (b.is_object() && b.as_object().contains("type") && b.at("type") == "input")
        has_input = true;
    if (has_input && !field(view, "submit"))
      fail("/view/submit", "must provide submit when the view has an input block");
    blocks_of(blocks->as_array(), true);
  } catch (const problem& p) {
    return p.text;
  } catch (const std::exception& e) {
    return std::string("[ERROR] ") + e.what();
  }
  return std::nullopt;
}

}  // namespace apono::test
