// Block Kit builders and the checks of Slack's limits.
#include "broker/slack/blocks.hpp"

#include <algorithm>

namespace apono::broker::slack::blocks {

namespace json = boost::json;

namespace {

constexpr std::string_view ellipsis = "\xE2\x80\xA6";  // …

std::string text_of(const json::object& o) {
  if (auto it = o.find("text"); it != o.end() && it->value().is_string())
    return std::string(it->value().get_string());
  return {};
}

// The text of a composition object (`{"type":"plain_text","text":...}`) at `key`, if any.
std::string composed(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_object()) return {};
  return text_of(it->value().get_object());
}

std::string check_options(const json::object& element, std::string_view where) {
  auto it = element.find("options");
  if (it == element.end()) return {};
  if (!it->value().is_array()) return std::string(where) + ": options is not a list";
  const auto& a = it->value().get_array();
  if (a.size() > limits::options)
    return std::string(where) + ": " + std::to_string(a.size()) + " options (at most 100)";
  for (const auto& o : a) {
    if (!o.is_object()) return std::string(where) + ": an option is not an object";
    if (composed(o.get_object(), "text").size() > limits::option_text)
      return std::string(where) + ": an option's text is longer than 75";
    auto v = o.get_object().find("value");
    if (v == o.get_object().end() || !v->value().is_string() ||
        v->value().get_string().size() > limits::option_value)
      return std::string(where) + ": an option's value is missing or longer than 150";
  }
  return {};
}

std::string check_element(const json::object& e, std::string_view where) {
  if (composed(e, "placeholder").size() > limits::placeholder)
    return std::string(where) + ": placeholder longer than 150";
  auto type = e.contains("type") && e.at("type").is_string() ? std::string(e.at("type").as_string())
                                                             : std::string();
  if (type.empty()) return std::string(where) + ": an element has no type";
  if (type == "button" && composed(e, "text").size() > limits::option_text)
    return std::string(where) + ": a button's text is longer than 75";
  if (auto r = check_options(e, where); !r.empty()) return r;
  return {};
}

std::string check_blocks(const json::array& blocks, std::size_t max, bool modal) {
  if (blocks.size() > max)
    return std::to_string(blocks.size()) + " blocks (at most " + std::to_string(max) + ")";
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const auto where = "block " + std::to_string(i);
    if (!blocks[i].is_object()) return where + " is not an object";
    const auto& b = blocks[i].get_object();
    auto type = b.contains("type") && b.at("type").is_string()
                    ? std::string(b.at("type").as_string())
                    : std::string();
    if (type == "section") {
      if (composed(b, "text").size() > limits::section_text)
        return where + ": section text longer than 3000";
      if (auto f = b.find("fields"); f != b.end()) {
        if (!f->value().is_array() || f->value().get_array().size() > 10)
          return where + ": more than 10 fields";
        for (const auto& x : f->value().get_array())
          if (x.is_object() && text_of(x.get_object()).size() > 2000)
            return where + ": a field longer than 2000";
      }
    } else if (type == "header") {
      if (composed(b, "text").size() > limits::header_text)
        return where + ": header longer than 150";
    } else if (type == "context") {
      auto e = b.find("elements");
      if (e == b.end() || !e->value().is_array() || e->value().get_array().empty() ||
          e->value().get_array().size() > limits::context_elements)
        return where + ": a context needs 1 to 10 elements";
      for (const auto& x : e->value().get_array())
        if (x.is_object() && text_of(x.get_object()).size() > limits::section_text)
          return where + ": context text longer than 3000";
    } else if (type == "actions") {
      auto e = b.find("elements");
      if (e == b.end() || !e->value().is_array() || e->value().get_array().empty() ||
          e->value().get_array().size() > 25)
        return where + ": an actions block needs 1 to 25 elements";
      for (const auto& x : e->value().get_array()) {
        if (!x.is_object()) return where + ": an element is not an object";
        if (auto r = check_element(x.get_object(), where); !r.empty()) return r;
      }
    } else if (type == "input") {
      if (!modal) return where + ": input blocks belong in modals";
      if (composed(b, "label").size() > limits::input_label)
        return where + ": label longer than 2000";
      auto e = b.find("element");
      if (e == b.end() || !e->value().is_object()) return where + ": an input has no element";
      if (auto r = check_element(e->value().get_object(), where); !r.empty()) return r;
    } else if (type != "divider") {
      return where + ": unknown block type '" + type + "'";
    }
    if (auto id = b.find("block_id");
        id != b.end() && id->value().is_string() && id->value().get_string().size() > 255)
      return where + ": block_id longer than 255";
  }
  return {};
}

}  // namespace

std::string truncate(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  if (max < ellipsis.size()) return {};
  std::size_t end = max - ellipsis.size();
  // Back up to the start of a UTF-8 character: continuation bytes are 10xxxxxx.
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return std::string(s.substr(0, end)) + std::string(ellipsis);
}

std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else
      out += c;
  }
  return out;
}

json::object plain(std::string_view text, std::size_t max) {
  // Slack refuses an empty text object.
  return json::object{{"type", "plain_text"},
                      {"text", text.empty() ? std::string(" ") : truncate(text, max)},
                      {"emoji", true}};
}

json::object mrkdwn(std::string_view text) {
  return json::object{
      {"type", "mrkdwn"},
      {"text", text.empty() ? std::string(" ") : truncate(text, limits::section_text)}};
}

json::object section(std::string_view text) {
  return json::object{{"type", "section"}, {"text", mrkdwn(text)}};
}

json::object fields(const std::vector<std::string>& texts) {
  json::array a;
  for (std::size_t i = 0; i < texts.size() && i < 10; ++i)
    a.push_back(json::object{{"type", "mrkdwn"}, {"text", truncate(texts[i], 2000)}});
  return json::object{{"type", "section"}, {"fields", std::move(a)}};
}

json::object header(std::string_view text) {
  return json::object{{"type", "header"}, {"text", plain(text, limits::header_text)}};
}

json::object context(std::string_view text) {
  return json::object{{"type", "context"}, {"elements", json::array{mrkdwn(text)}}};
}

json::object divider() {
  return json::object{{"type", "divider"}};
}

json::object button(std::string_view text, std::string_view action_id, std::string_view value,
                    std::string_view style) {
  json::object b{{"type", "button"},
                 {"text", plain(text)},
                 {"action_id", action_id},
                 {"value", truncate(value, 2000)}};
  if (!style.empty()) b["style"] = style;
  return b;
}

json::object actions(std::string_view block_id, json::array elements) {
  return json::object{
      {"type", "actions"}, {"block_id", block_id}, {"elements", std::move(elements)}};
}

json::object option(std::string_view text, std::string_view value) {
  return json::object{{"text", plain(text)}, {"value", truncate(value, limits::option_value)}};
}

json::array options(const std::vector<std::string>& values) {
  json::array a;
  for (const auto& v : values) {
    if (a.size() == limits::options) break;
    a.push_back(option(v, v));
  }
  return a;
}

json::object confirm(std::string_view title, std::string_view text, std::string_view yes,
                     std::string_view no) {
  return json::object{{"title", plain(title, 100)},
                      {"text", plain(text, 300)},
                      {"confirm", plain(yes, 30)},
                      {"deny", plain(no, 30)},
                      {"style", "danger"}};
}

json::object input(std::string_view block_id, std::string_view label, json::object element,
                   bool dispatch, bool optional, std::string_view hint) {
  json::object b{{"type", "input"},
                 {"block_id", block_id},
                 {"label", plain(label, limits::input_label)},
                 {"element", std::move(element)}};
  if (dispatch) b["dispatch_action"] = true;
  if (optional) b["optional"] = true;
  if (!hint.empty()) b["hint"] = plain(hint, limits::input_label);
  return b;
}

json::object modal(std::string_view title, std::string_view callback_id, json::array blocks,
                   std::string_view private_metadata, std::string_view submit,
                   std::string_view close) {
  json::object v{{"type", "modal"},
                 {"callback_id", callback_id},
                 {"title", plain(title, limits::modal_title)},
                 {"close", plain(submit.empty() ? "Close" : close, limits::modal_title)},
                 {"blocks", std::move(blocks)}};
  if (!submit.empty()) v["submit"] = plain(submit, limits::modal_title);
  // Metadata is ours and never cut silently: a caller that overfills it gets no state back.
  if (!private_metadata.empty() && private_metadata.size() <= limits::metadata)
    v["private_metadata"] = private_metadata;
  return v;
}

json::object message(std::string_view text, json::array b) {
  if (b.size() > limits::message_blocks) {
    // Keep the buttons: they are the message's point.
    auto last = b.back();
    b.resize(limits::message_blocks - 2);
    b.push_back(context("… more in the portal or with `apono requests list`"));
    b.push_back(std::move(last));
  }
  return json::object{{"text", truncate(text, limits::message_text)}, {"blocks", std::move(b)}};
}

std::string check_modal(const json::object& view) {
  if (!view.contains("type") || view.at("type") != "modal") return "not a modal";
  auto title = composed(view, "title");
  if (title.empty() || title.size() > limits::modal_title) return "title empty or longer than 24";
  if (composed(view, "submit").size() > limits::modal_title) return "submit longer than 24";
  if (composed(view, "close").size() > limits::modal_title) return "close longer than 24";
  if (auto m = view.find("private_metadata");
      m != view.end() &&
      (!m->value().is_string() || m->value().get_string().size() > limits::metadata))
    return "private_metadata longer than 3000";
  auto b = view.find("blocks");
  if (b == view.end() || !b->value().is_array()) return "no blocks";
  bool has_input = false;
  for (const auto& x : b->value().get_array())
    has_input = has_input || (x.is_object() && x.get_object().contains("type") &&
                              x.get_object().at("type") == "input");
  if (has_input && !view.contains("submit")) return "a modal with inputs needs a submit button";
  return check_blocks(b->value().get_array(), limits::modal_blocks, true);
}

std::string check_message(const json::object& message) {
  auto b = message.find("blocks");
  if (b == message.end()) return {};
  if (!b->value().is_array()) return "blocks is not a list";
  return check_blocks(b->value().get_array(), limits::message_blocks, false);
}

}  // namespace apono::broker::slack::blocks
