// A local stand-in for Slack, for tests: the Web API over HTTPS on 127.0.0.1 (auth.test,
// chat.postMessage, chat.update, chat.postEphemeral, conversations.open, views.open,
// views.update, views.push, users.info, users.lookupByEmail) plus response_url endpoints, and
// Slack's side of the app: it signs slash commands and interaction payloads the way Slack does
// and posts them to aponod, like a user's clicks. It checks the bot token on every call,
// records every call, enforces Slack's limits (50 blocks per message, 100 per modal, 3,000
// characters per section text, 24 characters per modal title, block and action shapes) and
// answers like Slack (`{"ok": false, "error": ...}`), and can be told to fail (500, 429 with
// Retry-After, ok:false, slow). Modelled on Teleport's fake_slack.go. The server runs on its
// own thread and stops in the destructor, also when a test fails.
#pragma once

#include <boost/json.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/time.hpp"
#include "tests/support/slack_blocks_check.hpp"

namespace apono::test {

/// One Web API call (or response_url post) as the stand-in saw it, accepted or not.
struct slack_call {
  std::string method;          ///< `chat.postMessage`, or `response_url` for a response_url post
  boost::json::object args;    ///< the JSON body (form bodies are converted)
  std::string token;           ///< the bearer token sent
  int http_status = 0;         ///< what it answered
  std::string error;           ///< `error` of an ok:false answer, empty on success
  boost::json::object answer;  ///< the whole answer
  common::time_point at{};     ///< when it arrived
};

/// One message in a conversation, as it stands after every update.
struct slack_message {
  std::string channel;        ///< `D...` for a DM
  std::string ts;             ///< its id
  std::string thread_ts;      ///< the parent's ts for a reply in a thread, else empty
  std::string text;           ///< the fallback text
  boost::json::array blocks;  ///< its blocks
  int updates = 0;            ///< chat.update calls it got
  bool ephemeral = false;     ///< chat.postEphemeral / response_type ephemeral
  std::string user;           ///< for an ephemeral one: who sees it
};

/// A person in the stand-in's workspace.
struct slack_user {
  std::string id;     ///< `U...`
  std::string name;   ///< display name
  std::string email;  ///< profile email ("" : none shared)
};

/// A failure to inject: the next `count` calls of `method` (empty: any) answer so.
struct slack_fault {
  std::string method;                   ///< empty: every method
  int count = 1;                        ///< how many calls
  int http_status = 200;                ///< 500, 429, ...
  std::string error;                    ///< ok:false with this error (status 200)
  std::chrono::seconds retry_after{0};  ///< with a 429
  std::chrono::milliseconds delay{0};   ///< answer this late (a slow Slack)
};

/// What aponod answered to a command or interaction the stand-in posted.
struct slack_reply {
  int status = 0;                     ///< HTTP status
  std::string body;                   ///< body as sent
  std::chrono::milliseconds took{0};  ///< from sending to the end of the answer
  /// The body as JSON when it was (a view_submission's response_action, an ephemeral reply).
  std::optional<boost::json::value> json;
};

/// A running Slack stand-in.
class slack_fixture {
 public:
  /// Creates a CA and certificate for 127.0.0.1 and starts serving; a fresh bot token and
  /// signing secret each time. Throws std::runtime_error when it cannot.
  slack_fixture();
  ~slack_fixture();
  slack_fixture(const slack_fixture&) = delete;
  slack_fixture& operator=(const slack_fixture&) = delete;

  /// `https://127.0.0.1:PORT/api`, for `notifications.slack.api_base_url`.
  [[nodiscard]] std::string api_url() const;
  /// PEM of the CA that signed the server certificate.
  [[nodiscard]] std::filesystem::path ca_file() const;
  /// The bot token the API accepts and the app's signing secret.
  [[nodiscard]] const std::string& bot_token() const;
  [[nodiscard]] const std::string& signing_secret() const;
  /// The `notifications.slack` YAML section for aponod pointing here (indented by `indent`).
  [[nodiscard]] std::string config_yaml(int indent = 2) const;

  /// The CA aponod's certificate is signed by, for command(), interact() and click().
  void set_aponod_ca(std::filesystem::path ca_file);
  /// Adds a workspace member; returns its id.
  std::string add_user(const std::string& name, const std::string& email);
  /// Injects a failure.
  void fail(slack_fault f);
  /// Drops every injected failure.
  void recover();

  /// Slack's side: posts `/apono <text>` typed by `user_id` to `aponod_url` + /slack/commands,
  /// signed; with a fresh trigger_id and response_url.
  slack_reply command(const std::string& aponod_url, const std::string& user_id,
                      const std::string& text);
  /// Slack's side: posts an interaction `payload` (block_actions, view_submission,
  /// block_suggestion, ...) as `payload=<json>` form, signed. The stand-in fills in `user`,
  /// `team`, `api_app_id`, `trigger_id` and `response_url` when absent.
  slack_reply interact(const std::string& aponod_url, const std::string& user_id,
                       boost::json::object payload);
  /// Posts `body` with exactly these headers (for the bad-signature, stale and replay tests).
  slack_reply post_raw(const std::string& url, const std::string& content_type,
                       const std::vector<std::pair<std::string, std::string>>& headers,
                       const std::string& body);
  /// Clicks button `action_id` (with its `value`) on message `m` as `user_id`.
  slack_reply click(const std::string& aponod_url, const std::string& user_id,
                    const slack_message& m, const std::string& action_id);

  /// Every call so far, oldest first; those of `method`.
  [[nodiscard]] std::vector<slack_call> calls() const;
  [[nodiscard]] std::vector<slack_call> calls(const std::string& method) const;
  /// Messages in `channel` (a user's DM channel when given a `U...` id), oldest first.
  [[nodiscard]] std::vector<slack_message> messages(const std::string& channel_or_user) const;
  /// The modal open for `user_id` (after views.open / update / push), or nullopt.
  [[nodiscard]] std::optional<boost::json::object> open_view(const std::string& user_id) const;
  /// Waits until `pred` holds over the recorded state (checked after every call), or `timeout`;
  /// returns whether it did.
  bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace apono::test
