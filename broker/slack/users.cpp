// The directory between Slack users and apono users, with a short cache so that a burst of
// messages or clicks asks Slack once per person. Slack's transient failures are not cached.
#include "broker/slack/users.hpp"

#include <algorithm>
#include <cctype>

namespace apono::broker::slack {

namespace json = boost::json;

namespace {

constexpr auto cache_for = std::chrono::minutes{5};

bool same_email(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// A missing person is Slack's definite answer; anything else (rate limits, 5xx, no answer)
// may pass.
bool definite(const api_result& r) {
  return r.http_status == 200 && (r.error == "user_not_found" || r.error == "users_not_found" ||
                                  r.error == "account_inactive" || r.error == "invalid_email");
}

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

directory::directory(web_api& api, config_holder& cfg, const common::clock& clk)
    : api_(api), cfg_(cfg), clock_(clk) {}

void directory::forget_if_reloaded(const std::shared_ptr<const config>& cfg) {
  if (seen_config_ == cfg) return;
  seen_config_ = cfg;
  by_slack_.clear();
  by_user_.clear();
}

lookup directory::apono_user(const std::string& slack_id) {
  const auto cfg = cfg_.get();
  const auto now = clock_.now();
  {
    std::lock_guard lock(mutex_);
    forget_if_reloaded(cfg);
    if (auto it = by_slack_.find(slack_id); it != by_slack_.end() && it->second.until > now)
      return it->second.value;
  }
  lookup out;
  const auto& s = cfg->notifications.slack;
  if (s)
    if (auto it = s->users.find(slack_id); it != s->users.end()) out.id = it->second;
  if (!out.id) {
    auto r = api_.call_form("users.info", {{"user", slack_id}});
    if (r.ok) {
      std::string email;
      if (const auto* u = r.body.if_contains("user"); u && u->is_object())
        if (const auto* p = u->as_object().if_contains("profile"); p && p->is_object())
          email = str(p->as_object(), "email");
      if (email.empty()) {
        out.error = "Slack shows no email for " + slack_id +
                    " (the app needs the users:read.email scope, or map the user in "
                    "notifications.slack.users)";
      } else {
        for (const auto& u : cfg->users)
          if (!u.email.empty() && same_email(u.email, email)) {
            out.id = u.name;
            break;
          }
        if (!out.id) out.error = "no apono user has the email of Slack user " + slack_id;
      }
    } else {
      out.error = r.error;
      out.retryable = !definite(r);
    }
  }
  if (!out.retryable) {
    std::lock_guard lock(mutex_);
    if (seen_config_ == cfg) by_slack_[slack_id] = {out, now + cache_for};
  }
  return out;
}

lookup directory::slack_user(const std::string& user) {
  const auto cfg = cfg_.get();
  const auto now = clock_.now();
  {
    std::lock_guard lock(mutex_);
    forget_if_reloaded(cfg);
    if (auto it = by_user_.find(user); it != by_user_.end() && it->second.until > now)
      return it->second.value;
  }
  lookup out;
  const auto& s = cfg->notifications.slack;
  if (s)
    for (const auto& [slack_id, name] : s->users)
      if (name == user) {
        out.id = slack_id;
        break;
      }
  if (!out.id) {
    const auto* u = cfg->find_user(user);
    if (!u) {
      out.error = "user " + user + " is not in the config";
    } else if (u->email.empty()) {
      out.error = "no email in the broker's config for " + user +
                  " (users: email), and no mapping in notifications.slack.users";
    } else {
      auto r = api_.call_form("users.lookupByEmail", {{"email", u->email}});
      if (r.ok) {
        if (const auto* su = r.body.if_contains("user"); su && su->is_object())
          if (auto id = str(su->as_object(), "id"); !id.empty()) out.id = id;
        if (!out.id) out.error = "users.lookupByEmail answered without a user id";
      } else {
        out.error = r.error == "users_not_found"
                        ? "users_not_found: no Slack user has the email of " + user
                        : r.error;
        out.retryable = !definite(r);
      }
    }
  }
  if (!out.retryable) {
    std::lock_guard lock(mutex_);
    if (seen_config_ == cfg) by_user_[user] = {out, now + cache_for};
  }
  return out;
}

}  // namespace apono::broker::slack
