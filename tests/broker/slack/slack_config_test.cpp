// `notifications.slack`: read with its defaults, secrets from the file, a file or the
// environment, and every refusal one line naming the key, never quoting a secret.
#include "broker/slack/slack_config.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>

#include "broker/config.hpp"
#include "common/secrets.hpp"
#include "tests/support/process.hpp"

using apono::broker::config_error;
using apono::broker::parse_config;

namespace {

const std::string token = "xoxb-1234567890-abcdefghijklmnop";
const std::string secret = "8f742231b10e8888abcd99yyyzzz85a5";

std::string error_of(const std::string& yaml) {
  try {
    (void)parse_config(yaml, "test.yaml");
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

std::string slack(const std::string& extra, bool secrets = true) {
  std::string y = "users: [{name: alice, email: alice@example.com}]\nnotifications:\n  slack:\n";
  if (secrets) y += "    bot_token: " + token + "\n    signing_secret: " + secret + "\n";
  return y + extra;
}

// Sets an environment variable for one scope.
struct scoped_env {
  scoped_env(const char* name, const std::string& value) : name_(name) {
    ::setenv(name, value.c_str(), 1);
  }
  ~scoped_env() { ::unsetenv(name_); }
  const char* name_;
};

}  // namespace

TEST_CASE("the Slack section is read with its defaults") {
  auto cfg = parse_config(slack("    users: {U012AB3CD: alice}\n"), "test.yaml");
  REQUIRE(cfg->notifications.slack);
  const auto& s = *cfg->notifications.slack;
  CHECK(s.name == "slack");
  CHECK(s.api_base_url == "https://slack.com/api");
  CHECK(s.bot_token == token);
  CHECK(s.signing_secret == secret);
  CHECK(s.users.at("U012AB3CD") == "alice");
  CHECK(s.events == std::vector<std::string>{"request.*"});
  CHECK_FALSE(parse_config("", "test.yaml")->notifications.slack);
}

TEST_CASE("Slack secrets come from files or the environment") {
  apono::test::temp_dir dir;
  apono::common::write_private_file(dir.path / "token", token + "\n");
  apono::common::write_private_file(dir.path / "secret", secret + "\n");
  auto cfg = parse_config(slack("    bot_token_file: " + (dir.path / "token").string() +
                                    "\n    signing_secret_file: " + (dir.path / "secret").string() +
                                    "\n    api_base_url: http://127.0.0.1:9/api/\n",
                                false),
                          "test.yaml");
  CHECK(cfg->notifications.slack->bot_token == token);
  CHECK(cfg->notifications.slack->signing_secret == secret);
  CHECK(cfg->notifications.slack->api_base_url == "http://127.0.0.1:9/api");

  scoped_env t("APONO_SLACK_BOT_TOKEN", token);
  scoped_env s("APONO_SLACK_SIGNING_SECRET", secret);
  auto env = parse_config(slack("    events: [request.pending_approval]\n", false), "test.yaml");
  CHECK(env->notifications.slack->bot_token == token);
  CHECK(env->notifications.slack->events == std::vector<std::string>{"request.pending_approval"});
}

TEST_CASE("Slack config errors are one line that names the key and never a secret") {
  struct bad_case {
    std::string yaml;
    std::string says;
  };
  apono::test::temp_dir dir;
  const auto missing = (dir.path / "missing").string();
  const std::vector<bad_case> cases = {
      {slack("    colour: blue\n"), "colour"},
      {slack("    name: slack\n", false), "a bot token is required"},
      {slack("    bot_token: " + token + "\n", false), "a signing secret is required"},
      {slack("    bot_token: xoxp-user-token-1234567\n    signing_secret: " + secret + "\n", false),
       "not a Slack bot token"},
      {slack("    bot_token: " + token + "\n    signing_secret: short\n", false),
       "not a Slack signing secret"},
      {slack("    bot_token_file: " + missing + "\n    signing_secret: " + secret + "\n", false),
       "cannot read"},
      {slack("    bot_token_file: " + missing + "\n    bot_token: " + token +
                 "\n    signing_secret: " + secret + "\n",
             false),
       "not both"},
      {slack("    api_base_url: http://slack.example.com/api\n"), "only to a loopback"},
      {slack("    api_base_url: not a url\n"), "api_base_url"},
      {slack("    users: {alice: alice}\n"), "not a Slack user id"},
      {slack("    users: {U012AB3CD: mallory}\n"), "mallory"},
      {slack("    events: [audit.*]\n"), "no one to message"},
      {slack("    events: [request.nope]\n"), "unknown event"},
      {slack("    name: Slack!\n"), "name"},
      {slack("    ca_file: " + missing + "\n"), "cannot read"},
      {"notifications:\n  webhooks:\n    - name: slack\n      url: https://h.example.com\n"
       "      secrets: [whsec_" +
           apono::common::base64(std::string(32, 'a')) +
           "]\n      events: [\"request.*\"]\n  slack:\n    bot_token: " + token +
           "\n    signing_secret: " + secret + "\n",
       "another endpoint is named 'slack'"},
  };
  for (const auto& c : cases) {
    INFO(c.yaml);
    const auto e = error_of(c.yaml);
    CHECK(e.find(c.says) != std::string::npos);
    CHECK(e.find("test.yaml:") == 0);
    CHECK(e.find('\n') == std::string::npos);
    CHECK(e.find(secret) == std::string::npos);
    CHECK(e.find("xoxp-user-token") == std::string::npos);
    CHECK(e.find(token) == std::string::npos);
  }
}
