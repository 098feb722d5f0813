// One Slack attempt: whom (the directory), what (the notice in Block Kit), and the steps the
// event takes for that person's role, each step skipped when an earlier attempt of this
// delivery did it (its post is in the store).
#include "broker/notify/slack/slack_channel.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <exception>

#include "broker/notify/notice.hpp"
#include "broker/notify/recipients.hpp"
#include "broker/notify/slack/blocks.hpp"

namespace apono::broker::notify {

namespace json = boost::json;
using outcome = attempt_result::outcome;

struct slack_channel::client {
  client(const std::shared_ptr<const config>& c, config_holder& holder, const common::clock& clk)
      : cfg(c), api(*c->notifications.slack), users(api, holder, clk) {}
  std::shared_ptr<const config> cfg;
  slack::web_api api;
  slack::directory users;
};

namespace {

// Slack errors an admin fixes in the app or the config (then the message goes out), and
// Slack's own trouble: retried until the maximum age. Every other error is about this message
// or person and will not change by trying again.
bool retryable(const slack::api_result& r) {
  static constexpr std::array<std::string_view, 13> transient{"ratelimited",
                                                              "internal_error",
                                                              "fatal_error",
                                                              "service_unavailable",
                                                              "request_timeout",
                                                              "invalid_auth",
                                                              "not_authed",
                                                              "token_revoked",
                                                              "token_expired",
                                                              "account_inactive",
                                                              "missing_scope",
                                                              "no_permission",
                                                              "team_access_not_granted"};
  if (r.http_status == 0 || r.http_status == 429 || r.http_status >= 500) return true;
  return std::find(transient.begin(), transient.end(), r.error) != transient.end();
}

attempt_result failure(const slack::api_result& r, const std::string& what) {
  attempt_result out;
  out.result = retryable(r) ? outcome::failed : outcome::dropped;
  out.http_status = r.http_status;
  out.error = what + ": " + r.error;
  out.retry_after = r.retry_after;
  return out;
}

std::string requester_of(const std::string& payload) {
  boost::system::error_code ec;
  auto v = json::parse(payload, ec);
  if (ec || !v.is_object()) return {};
  const auto* d = v.as_object().if_contains("data");
  if (!d || !d->is_object()) return {};
  const auto* r = d->as_object().if_contains("requester");
  return r && r->is_string() ? std::string(r->as_string()) : std::string();
}

bool is_decision(std::string_view type) {
  return type == "request.approved" || type == "request.rejected" || type == "request.failed" ||
         type == "request.revoked";
}

}  // namespace

slack_channel::slack_channel(store& st, config_holder& cfg, const common::clock& clk)
    : store_(st), config_(cfg), clock_(clk) {}

slack_channel::~slack_channel() = default;

std::shared_ptr<slack_channel::client> slack_channel::client_for(
    const std::shared_ptr<const config>& cfg) {
  std::lock_guard lock(mutex_);
  // A reload may change the token or the URL: the next attempt uses the new ones.
  if (!client_ || client_->cfg != cfg) client_ = std::make_shared<client>(cfg, config_, clock_);
  return client_;
}

attempt_result slack_channel::attempt(const delivery& d, const notifications_config& cfg) {
  const auto key = split_endpoint(d.endpoint);
  if (!cfg.slack || cfg.slack->name != key.endpoint)
    return {outcome::dropped, 0, "slack is no longer configured", {}};
  if (key.recipient.empty()) return {outcome::dropped, 0, "a Slack delivery names no one", {}};
  const auto all = config_.get();
  if (!all->notifications.slack) return {outcome::dropped, 0, "slack is no longer configured", {}};
  auto cl = client_for(all);

  try {
    // Who, in Slack.
    auto who = cl->users.slack_user(key.recipient);
    if (!who.id)
      return {who.retryable ? outcome::failed : outcome::dropped,
              0,
              "to " + key.recipient + ": " + who.error,
              {}};
    const auto n = make_notice(d.payload, cfg);
    const bool as_requester = key.recipient == requester_of(d.payload);

    std::optional<slack_message_ref> done;
    std::vector<slack_message_ref> refs;
    store_.read([&](store_tx& tx) {
      done = tx.slack_message_by_delivery(d.webhook_id);
      if (d.request_id) refs = tx.slack_messages(d.request_id);
    });
    auto parent_of = [&](std::string_view role) -> std::optional<slack_message_ref> {
      for (const auto& r : refs)
        if (r.user == key.recipient && r.role == role) return r;
      return std::nullopt;
    };

    // Posts `m` to the person (in `thread` when given) and records it for this delivery.
    auto post =
        [&](const slack_blocks::message& m, const std::string& role,
            const std::optional<slack_message_ref>& thread) -> std::optional<attempt_result> {
      std::string conversation;
      if (thread) {
        conversation = thread->channel;
      } else {
        auto open = cl->api.call("conversations.open", {{"users", *who.id}}, cfg.timeout);
        if (!open.ok) return failure(open, "to " + key.recipient + ": conversations.open");
        if (const auto* c = open.body.if_contains("channel"); c && c->is_object())
          if (const auto* id = c->as_object().if_contains("id"); id && id->is_string())
            conversation = std::string(id->as_string());
        if (conversation.empty())
          return attempt_result{outcome::failed,
                                200,
                                "to " + key.recipient + ": conversations.open gave no channel",
                                {}};
      }
      json::object args{{"channel", conversation},
                        {"text", m.text},
                        {"blocks", m.blocks},
                        {"unfurl_links", false},
                        {"unfurl_media", false}};
      if (thread) args["thread_ts"] = thread->ts;
      auto sent = cl->api.call("chat.postMessage", args, cfg.timeout);
      if (!sent.ok) return failure(sent, "to " + key.recipient + ": chat.postMessage");
      slack_message_ref ref{d.webhook_id, d.request_id, key.recipient, role,
                            conversation, {},           clock_.now()};
      if (const auto* ts = sent.body.if_contains("ts"); ts && ts->is_string())
        ref.ts = std::string(ts->as_string());
      try {
        store_.transact([&](store_tx& tx) { (void)tx.insert_slack_message(ref); });
      } catch (const std::exception& e) {
        // Posted, but unrecorded: a retry posts it again (at least once, as every channel).
        spdlog::error("notify: slack: recording the message of {} failed: {}", d.webhook_id,
                      e.what());
        return attempt_result{
            outcome::failed, 200, "posted, but recording the message failed (store)", {}};
      }
      refs.push_back(ref);
      if (!done) done = ref;
      return std::nullopt;
    };
    auto update = [&](const slack_message_ref& r,
                      const slack_blocks::message& m) -> std::optional<attempt_result> {
      auto res = cl->api.call(
          "chat.update",
          {{"channel", r.channel}, {"ts", r.ts}, {"text", m.text}, {"blocks", m.blocks}},
          cfg.timeout);
      if (!res.ok) return failure(res, "to " + key.recipient + ": chat.update");
      return std::nullopt;
    };
    const attempt_result delivered{outcome::delivered, 200, {}, {}};

    if (d.event_type == "notification.test") {
      if (done) return delivered;
      slack_blocks::message m{n.title, {}};
      m.blocks.push_back(json::object{
          {"type", "section"},
          {"text", json::object{{"type", "mrkdwn"},
                                {"text", slack_blocks::escape(
                                             n.lines.empty() ? n.title : n.lines.front())}}}});
      if (auto f = post(m, "test", std::nullopt)) return *f;
      return delivered;
    }

    if (!as_requester) {
      const auto parent = parent_of("approver");
      if (d.event_type == "request.pending_approval" ||
          (d.event_type == "request.reminder" && !parent)) {
        if (done) return delivered;
        if (auto f = post(slack_blocks::approval_request(n), "approver", std::nullopt)) return *f;
        return delivered;
      }
      if (d.event_type == "request.reminder") {
        if (done) return delivered;
        if (auto f = post(slack_blocks::thread_reply(n), "reply", parent)) return *f;
        return delivered;
      }
      if (is_decision(d.event_type)) {
        // Every copy this approver got (one, unless the flow's approvers changed and it was
        // sent again) shows the outcome, without buttons.
        for (const auto& r : refs)
          if (r.user == key.recipient && r.role == "approver")
            if (auto f = update(r, slack_blocks::approval_outcome(n))) return *f;
        return delivered;
      }
      return delivered;  // nothing an approver is told
    }

    const auto parent = parent_of("requester");
    if (!parent) {
      // The first message about this request (or the first since Slack was configured): it
      // shows the status, so no reply is needed.
      if (auto f = post(slack_blocks::requester_status(n), "requester", std::nullopt)) return *f;
      return delivered;
    }
    if (!done && d.event_type != "request.created")
      if (auto f = post(slack_blocks::thread_reply(n), "reply", parent)) return *f;
    if (auto f = update(*parent, slack_blocks::requester_status(n))) return *f;
    return delivered;
  } catch (const std::exception& e) {
    // The store, read before anything is sent: try again.
    return {outcome::failed, 0, std::string("slack: ") + e.what(), {}};
  }
}

void slack_channel::check_auth() {
  const auto cfg = config_.get();
  json::value result;
  if (cfg->notifications.slack) {
    slack::web_api api(*cfg->notifications.slack);
    auto r = api.call("auth.test", {}, std::chrono::seconds{10});
    if (r.ok) {
      auto str = [&](std::string_view k) {
        const auto* v = r.body.if_contains(k);
        return v && v->is_string() ? std::string(v->as_string()) : std::string();
      };
      result = json::object{{"ok", true},
                            {"team", str("team")},
                            {"team_id", str("team_id")},
                            {"bot_user", str("user")},
                            {"bot_user_id", str("user_id")}};
      spdlog::info("slack: auth.test: the bot {} of team {}", str("user"), str("team"));
    } else {
      result = json::object{{"ok", false}, {"error", r.error}};
      spdlog::warn("slack: auth.test failed: {}", r.error);
    }
  }
  std::lock_guard lock(mutex_);
  readiness_ = std::move(result);
}

json::value slack_channel::readiness() const {
  std::lock_guard lock(mutex_);
  return readiness_;
}

}  // namespace apono::broker::notify
