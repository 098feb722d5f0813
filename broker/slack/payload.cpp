// Strict readers of Slack's form-encoded bodies.
#include "broker/slack/payload.hpp"

#include <algorithm>
#include <cctype>

#include "broker/api/json_body.hpp"
#include "common/error.hpp"

namespace apono::broker::slack {

namespace json = boost::json;
using common::api_error;
using common::errc;

namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size())
        throw api_error(errc::invalid_argument, "malformed form body: a '%' escape is cut short");
      int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0)
        throw api_error(errc::invalid_argument, "malformed form body: a bad '%' escape");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

void require_form(const http::request& req) {
  std::string type = req.content_type.substr(0, req.content_type.find(';'));
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  while (!type.empty() && type.back() == ' ') type.pop_back();
  if (type != "application/x-www-form-urlencoded")
    throw api_error(errc::invalid_argument, "Slack requests are application/x-www-form-urlencoded");
}

}  // namespace

std::map<std::string, std::string> parse_form(std::string_view body) {
  if (body.size() > 64 * 1024) throw api_error(errc::invalid_argument, "form body too large");
  std::map<std::string, std::string> out;
  std::size_t i = 0;
  while (i < body.size()) {
    auto amp = body.find('&', i);
    if (amp == std::string_view::npos) amp = body.size();
    auto pair = body.substr(i, amp - i);
    i = amp + 1;
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto key = decode(pair.substr(0, eq));
    auto value = eq == std::string_view::npos ? std::string() : decode(pair.substr(eq + 1));
    if (key.empty()) throw api_error(errc::invalid_argument, "malformed form body: an empty key");
    if (!out.emplace(key, std::move(value)).second)
      throw api_error(errc::invalid_argument,
                      "malformed form body: '" + key.substr(0, 64) + "' given twice");
  }
  return out;
}

command parse_command(const http::request& req) {
  require_form(req);
  auto f = parse_form(req.body);
  auto get = [&](const char* k) {
    auto it = f.find(k);
    return it == f.end() ? std::string() : it->second;
  };
  command c{get("command"),    get("text"),       get("user_id"),
            get("channel_id"), get("trigger_id"), get("response_url")};
  if (c.user_id.empty() || c.trigger_id.empty())
    throw api_error(errc::invalid_argument, "a slash command needs user_id and trigger_id");
  if (c.text.size() > 4000) throw api_error(errc::invalid_argument, "command text too long");
  return c;
}

json::object parse_interaction(const http::request& req) {
  require_form(req);
  auto f = parse_form(req.body);
  auto it = f.find("payload");
  if (it == f.end() || it->second.empty())
    throw api_error(errc::invalid_argument, "an interaction needs a 'payload' field");
  auto o = api::parse_json_object(it->second);
  if (field(o, {"type"}).empty())
    throw api_error(errc::invalid_argument, "the interaction payload has no 'type'");
  return o;
}

std::string field(const json::object& o, std::initializer_list<std::string_view> path) {
  const json::object* cur = &o;
  std::size_t n = 0;
  for (auto key : path) {
    auto it = cur->find(key);
    if (it == cur->end()) return {};
    if (++n == path.size())
      return it->value().is_string() ? std::string(it->value().get_string()) : std::string();
    if (!it->value().is_object()) return {};
    cur = &it->value().get_object();
  }
  return {};
}

std::string required_field(const json::object& o, std::initializer_list<std::string_view> path) {
  auto v = field(o, path);
  if (v.empty()) {
    std::string name;
    for (auto k : path) name += (name.empty() ? "" : ".") + std::string(k);
    throw api_error(errc::invalid_argument, "the interaction payload has no '" + name + "'");
  }
  return v;
}

}  // namespace apono::broker::slack
