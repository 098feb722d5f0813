// The gate of the Slack endpoints, who a Slack user is, how replies reach them, and the queue
// of work done after Slack has its answer.
#include "broker/slack/app.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include <thread>

#include "broker/api/json_body.hpp"
#include "broker/slack/request_check.hpp"
#include "broker/slack/views.hpp"
#include "common/error.hpp"

namespace apono::broker::slack {

namespace json = boost::json;
using common::api_error;
using common::errc;

namespace {

constexpr std::string_view commands_path = "/slack/commands";
constexpr std::string_view interactions_path = "/slack/interactions";

// Slack repeats a request it got no answer to within 3 s; a trigger id seen this recently is
// the same click or command again.
constexpr auto remember_triggers = std::chrono::minutes{10};

}  // namespace

app::app(config_holder& config, service& svc, store& st, const common::clock& clk)
    : config_(config), service_(svc), store_(st), clock_(clk) {}

app::~app() {
  work_.join();
}

bool app::handles(std::string_view path) {
  return path == commands_path || path == interactions_path;
}

std::shared_ptr<app::client> app::current() {
  auto cfg = config_.get();
  std::lock_guard lock(mutex_);
  if (!cfg->notifications.slack) {
    client_.reset();
    seen_.reset();
    return nullptr;
  }
  // A reload may change the token, the secret or the API's address: a new client then. Work
  // still running holds the old one until it ends.
  if (cfg != seen_) {
    client_ = std::make_shared<client>(*cfg->notifications.slack, config_, clock_);
    seen_ = cfg;
  }
  return client_;
}

http::response app::handle(const http::request& req, const std::string& path) {
  auto slack = current();
  if (!slack) throw api_error(errc::not_found, "Slack is not configured on this broker");
  if (req.method != "POST")
    throw api_error(errc::not_found, "no such endpoint: " + req.method.substr(0, 32) + " " + path);
  // Nothing of the body is read before Slack's signature is checked.
  const auto v = check_request(req, slack->cfg.signing_secret, store_, clock_.now());
  if (v != verdict::ok) {
    spdlog::warn("slack: {} from {} refused: {}", path, req.remote, describe(v));
    throw api_error(errc::unauthenticated, "Slack request refused: " + std::string(describe(v)));
  }
  if (path == commands_path) {
    auto c = parse_command(req);
    if (!first_time(c.trigger_id)) return http::response{200, "", "", {}};
    return on_command(c);
  }
  auto p = parse_interaction(req);
  // block_suggestion has no trigger: it is a read, safe to answer twice.
  if (auto t = field(p, {"trigger_id"}); !t.empty() && !first_time(t))
    return http::response{200, "", "", {}};
  return on_interaction(p);
}

void app::later(std::function<void()> fn) {
  boost::asio::post(work_, [fn = std::move(fn)] {
    try {
      fn();
    } catch (const std::exception& e) {
      // The person already has Slack's acknowledgement; the log is where this can go.
      spdlog::error("slack: work after the acknowledgement failed: {}", e.what());
    }
  });
}

bool app::first_time(const std::string& trigger_id) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  std::erase_if(triggers_, [&](const auto& kv) { return now - kv.second > remember_triggers; });
  if (!triggers_.emplace(trigger_id, now).second) {
    spdlog::info("slack: a repeated request (trigger seen before) acknowledged and ignored");
    return false;
  }
  return true;
}

app::identity app::who(const std::string& slack_user) {
  auto slack = current();
  if (!slack) return {std::nullopt, "Slack is no longer configured on this broker."};
  auto found = slack->users.apono_user(slack_user);
  auto cfg = config_.get();
  const user_config* u = found.id ? cfg->find_user(*found.id) : nullptr;
  if (!u) {
    std::string why = found.id ? "apono has no user '" + *found.id + "'" : found.error;
    if (why.empty()) why = "no match";
    return {std::nullopt,
            ":no_entry: Your Slack account is not linked to an apono user: " + why +
                ". Ask an apono admin to give your apono user your Slack email, or to map " +
                slack_user + " in `notifications.slack.users`."};
  }
  caller c{u->name, u->admin, {{"via", "slack"}, {"slack_user", slack_user}}};
  return {std::move(c), {}};
}

api_result app::call(std::string_view method, const json::object& args) {
  // A reply is worth a few tries over a short outage; the person is waiting, so not more.
  api_result r;
  auto c = current();
  if (!c) {
    r.error = "Slack is no longer configured";
    return r;
  }
  for (int attempt = 1; attempt <= 3; ++attempt) {
    r = c->api.call(method, args);
    if (r.ok) return r;
    const bool retry = r.http_status == 0 || r.http_status >= 500 || r.http_status == 429;
    spdlog::warn("slack: {} failed (attempt {}): {} {}", method, attempt, r.http_status, r.error);
    if (!retry || attempt == 3) break;
    auto wait = r.retry_after.value_or(std::chrono::milliseconds{500 * attempt});
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(wait, std::chrono::seconds{5}));
  }
  return r;
}

void app::tell(const reply_to& to, const json::object& message) {
  if (auto c = current(); c && !to.response_url.empty()) {
    auto r = c->api.respond(to.response_url, message);
    if (r.ok || (r.http_status >= 200 && r.http_status < 300)) return;
    spdlog::warn("slack: response_url answered {} {}; replying another way", r.http_status,
                 r.error);
  }
  json::object args = message;
  args.erase("response_type");
  args.erase("replace_original");
  if (!to.channel.empty()) {
    args["channel"] = to.channel;
    args["user"] = to.user;
    if (call("chat.postEphemeral", args).ok) return;
    args.erase("user");
  }
  // A direct message from the app always reaches them.
  args["channel"] = to.user;
  (void)call("chat.postMessage", args);
}

}  // namespace apono::broker::slack
