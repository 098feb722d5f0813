// The `notifications.slack` section of aponod.yaml: where the Slack Web API is, the bot token
// and signing secret (from the file, a file path or the environment), which notification events
// become direct messages, and the explicit Slack user -> apono user mapping for people whose
// Slack email is not the one in the broker's user config.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace apono::broker {
class config_reader;
}

namespace apono::broker::slack {

/// The Slack app aponod is (one per broker).
struct slack_config {
  std::string name = "slack";  ///< the endpoint's name; deliveries are `slack:<user>`
  /// The Web API's base URL; a method is `<api_base_url>/<method>` (tests point it at a
  /// loopback stand-in). No trailing slash.
  std::string api_base_url = "https://slack.com/api";
  std::filesystem::path ca_file;  ///< PEM CA to verify the API with; empty: the system's
  std::string bot_token;          ///< `xoxb-...` (secret: never logged or shown)
  std::string signing_secret;     ///< verifies requests from Slack (secret)
  /// Slack user id (`U012AB3CD`) -> apono user name; consulted before the email lookup.
  std::map<std::string, std::string> users;
  /// The notification events sent as direct messages (default: every request event).
  std::vector<std::string> events;
};

/// Reads `notifications.slack` with `r`'s strict getters: `api_base_url`, `ca_file`,
/// `bot_token` / `bot_token_file` / env `APONO_SLACK_BOT_TOKEN`, `signing_secret` /
/// `signing_secret_file` / env `APONO_SLACK_SIGNING_SECRET`, `users`, `events`. Throws
/// config_error naming the file and line, never quoting a secret.
[[nodiscard]] std::optional<slack_config> read_slack(const config_reader& r, const YAML::Node& n);

}  // namespace apono::broker::slack
