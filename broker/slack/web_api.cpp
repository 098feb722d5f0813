// One Web API call on a connection of its own: calls are few (a message per event, a lookup
// per new user), so a fresh client per call is simpler than a shared pool and needs no lock.
// Errors never carry the token: the HTTP client's messages name the origin and the cause only.
#include "broker/slack/web_api.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <exception>

#include "common/http_client.hpp"

namespace apono::broker::slack {

namespace json = boost::json;

namespace {

// Retry-After as Slack sends it: whole seconds.
std::optional<std::chrono::milliseconds> seconds_of(const std::string& value) {
  if (value.empty()) return std::nullopt;
  std::int64_t s = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), s);
  if (ec != std::errc{} || p != value.data() + value.size() || s < 0) return std::nullopt;
  return std::chrono::milliseconds{std::min<std::int64_t>(s, 3600) * 1000};
}

// The origin (`scheme://host:port`) and the path of an absolute URL, or nullopt.
struct split {
  std::string origin;
  std::string path;
};
std::optional<split> split_url(const std::string& url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed || (parsed->scheme() != "https" && parsed->scheme() != "http") ||
      parsed->host_address().empty() || parsed->has_userinfo())
    return std::nullopt;
  const bool v6 = parsed->host_type() == boost::urls::host_type::ipv6;
  const std::string host(parsed->host_address());
  split out;
  out.origin = std::string(parsed->scheme()) + "://" + (v6 ? "[" + host + "]" : host) +
               (parsed->has_port() ? ":" + std::string(parsed->port()) : "");
  out.path = std::string(parsed->encoded_path());
  if (parsed->has_query()) out.path += "?" + std::string(parsed->encoded_query());
  if (out.path.empty()) out.path = "/";
  return out;
}

// One POST, read the Slack way: a JSON answer with `ok`, 429 with Retry-After.
api_result post(const std::string& origin, const std::filesystem::path& ca,
                const std::string& target, const std::string& body,
                const std::vector<std::pair<std::string, std::string>>& headers,
                std::chrono::milliseconds timeout) {
  api_result out;
  try {
    common::http_client client({origin, ca, {}, timeout});
    auto res = client.request("POST", target, body, headers, timeout);
    out.http_status = res.status;
    boost::system::error_code ec;
    auto v = json::parse(res.body, ec);
    if (!ec && v.is_object()) out.body = std::move(v.as_object());
    if (res.status == 429) {
      out.retry_after = seconds_of(res.retry_after);
      out.error = "ratelimited";
      return out;
    }
    if (res.status < 200 || res.status >= 300) {
      out.error = "Slack answered HTTP " + std::to_string(res.status);
      return out;
    }
    if (ec || !v.is_object()) {
      // response_url answers a bare `ok`; the Web API always answers JSON.
      if (res.body == "ok") {
        out.ok = true;
        return out;
      }
      out.error = "Slack answered HTTP " + std::to_string(res.status) + " without JSON";
      return out;
    }
    const auto* ok = out.body.if_contains("ok");
    out.ok = ok && ok->is_bool() && ok->as_bool();
    if (!out.ok) {
      const auto* e = out.body.if_contains("error");
      out.error = e && e->is_string() ? std::string(e->as_string()) : std::string("unknown_error");
      // Slack says what is wrong with the blocks here; it never echoes a token.
      if (const auto* meta = out.body.if_contains("response_metadata"); meta && meta->is_object())
        if (const auto* msgs = meta->as_object().if_contains("messages");
            msgs && msgs->is_array() && !msgs->as_array().empty() &&
            msgs->as_array()[0].is_string()) {
          std::string detail(msgs->as_array()[0].as_string());
          if (detail.size() > 200) detail.resize(200);
          out.error += " (" + detail + ")";
        }
    }
  } catch (const std::exception& e) {
    out.http_status = 0;
    out.error = e.what();
    if (auto nl = out.error.find('\n'); nl != std::string::npos) out.error.resize(nl);
  }
  return out;
}

}  // namespace

struct web_api::impl {
  slack_config cfg;
  std::string origin;
  std::string base_path;  // `/api`
};

web_api::web_api(slack_config cfg) : impl_(std::make_unique<impl>()) {
  impl_->cfg = std::move(cfg);
  if (auto s = split_url(impl_->cfg.api_base_url)) {
    impl_->origin = s->origin;
    impl_->base_path = s->path == "/" ? "" : s->path;
  }
}

web_api::~web_api() = default;

api_result web_api::call(std::string_view method, const json::object& args,
                         std::chrono::milliseconds timeout) {
  if (impl_->origin.empty()) return {0, false, "api_base_url is not a URL", {}, {}};
  return post(impl_->origin, impl_->cfg.ca_file, impl_->base_path + "/" + std::string(method),
              json::serialize(args),
              {{"Content-Type", "application/json; charset=utf-8"},
               {"Authorization", "Bearer " + impl_->cfg.bot_token},
               {"User-Agent", "apono-slack/1"}},
              timeout);
}

api_result web_api::call_form(std::string_view method,
                              const std::vector<std::pair<std::string, std::string>>& args,
                              std::chrono::milliseconds timeout) {
  if (impl_->origin.empty()) return {0, false, "api_base_url is not a URL", {}, {}};
  std::string body;
  for (const auto& [k, v] : args) {
    if (!body.empty()) body += '&';
    body += common::url_encode(k) + "=" + common::url_encode(v);
  }
  return post(impl_->origin, impl_->cfg.ca_file, impl_->base_path + "/" + std::string(method), body,
              {{"Content-Type", "application/x-www-form-urlencoded"},
               {"Authorization", "Bearer " + impl_->cfg.bot_token},
               {"User-Agent", "apono-slack/1"}},
              timeout);
}

api_result web_api::respond(const std::string& response_url, const json::object& message,
                            std::chrono::milliseconds timeout) {
  auto s = split_url(response_url);
  // Only Slack's hooks host, or the configured API's origin (a stand-in), gets a message: a
  // forged response_url must not make aponod post to an arbitrary host.
  if (!s || (s->origin != "https://hooks.slack.com" && s->origin != impl_->origin))
    return {0, false, "response_url is not one of Slack's", {}, {}};
  return post(
      s->origin, impl_->cfg.ca_file, s->path, json::serialize(message),
      {{"Content-Type", "application/json; charset=utf-8"}, {"User-Agent", "apono-slack/1"}},
      timeout);
}

const slack_config& web_api::config() const {
  return impl_->cfg;
}

}  // namespace apono::broker::slack
