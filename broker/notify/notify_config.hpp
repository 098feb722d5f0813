// The `notifications` section of aponod.yaml: the endpoints of each channel (webhooks: URL,
// secrets, event filter, CA; email: the SMTP server; Microsoft Teams: Workflows URLs; Slack: the
// app, broker/slack/slack_config.hpp), the portal's public URL that notifications link to, how
// deliveries are timed (per-attempt timeout, backoff, maximum age), the reminders and
// expiring-soon notices, and how long finished deliveries are kept.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/slack/slack_config.hpp"

namespace YAML {
class Node;
}

namespace apono::broker {
class config_reader;
}

namespace apono::broker::notify {

/// One webhook endpoint.
struct webhook_config {
  std::string name;       ///< unique; names the endpoint in the API, the store and the logs
  std::string origin;     ///< `scheme://host:port`, what the HTTP client connects to
  std::string target;     ///< path and query, the request line's target
  std::string shown_url;  ///< scheme, host and port, `/...` for a path or query (either may
                          ///< carry a token): what the API shows; logs name the endpoint only
  std::vector<std::string> keys;    ///< the decoded `whsec_` secrets, in config order (secret)
  std::vector<std::string> events;  ///< the filter: event types or prefixes (`request.*`)
  std::filesystem::path ca_file;    ///< PEM CA to verify the endpoint with; empty: the system's
};

/// How the SMTP connection is protected.
enum class smtp_tls {
  starttls,  ///< plain connect, then STARTTLS before anything else (port 587); required
  implicit,  ///< TLS from the first byte (port 465)
  none,      ///< no TLS: only to a loopback server, or with allow_plain
};

/// The email endpoint (one per broker): an SMTP server to send through.
struct email_config {
  std::string name = "email";         ///< the endpoint's name; deliveries are `email:<user>`
  std::string host;                   ///< the SMTP server
  int port = 587;                     ///< its port (587 for starttls, 465 for implicit)
  smtp_tls tls = smtp_tls::starttls;  ///< how the connection is protected
  std::string username;               ///< for AUTH; empty: no AUTH
  std::string password;               ///< for AUTH (secret: never logged or shown)
  std::string from;                   ///< the From address, `addr@example.com` or `Name <addr>`
  std::string from_address;           ///< the address part of `from`, for MAIL FROM
  std::string helo = "aponod";        ///< the name given in EHLO
  std::filesystem::path ca_file;      ///< PEM CA to verify the server with; empty: the system's
  std::vector<std::string> events;    ///< the filter (default: every request event)
};

/// One Microsoft Teams endpoint: a Workflows webhook URL that posts Adaptive Cards.
struct teams_config {
  std::string name;                 ///< unique among every endpoint's name
  std::string origin;               ///< `scheme://host:port`, what the HTTP client connects to
  std::string target;               ///< path and query (the query carries the Workflow's signature)
  std::string shown_url;            ///< scheme, host and port, `/...`: what the API shows
  std::vector<std::string> events;  ///< the filter
  std::filesystem::path ca_file;    ///< PEM CA to verify the endpoint with; empty: the system's
};

/// The whole section.
struct notifications_config {
  std::vector<webhook_config> webhooks;      ///< endpoints
  std::optional<email_config> email;         ///< the SMTP endpoint
  std::vector<teams_config> teams;           ///< Teams endpoints
  std::optional<slack::slack_config> slack;  ///< the Slack app (direct messages)
  std::string portal_url;  ///< the portal's public base URL (`https://apono.example.com`), no
                           ///< trailing slash; empty: notifications carry no link
  std::chrono::milliseconds timeout{std::chrono::seconds{10}};         ///< one attempt, end to end
  std::chrono::milliseconds initial_backoff{std::chrono::seconds{1}};  ///< after a first failure
  std::chrono::milliseconds max_backoff{std::chrono::minutes{10}};     ///< the doubling stops here
  std::chrono::milliseconds max_age{std::chrono::hours{24}};           ///< then a delivery is dead
  bool jitter = true;  ///< full jitter: each delay uniform in [0, backoff]
  int workers = 4;     ///< attempts in flight at once
  /// A PENDING request reminds its approvers this long after it was made or last reminded
  /// them; zero: no reminders.
  std::chrono::milliseconds reminder_interval{0};
  /// An Active grant says it is expiring this long before its end; zero: no such notice.
  std::chrono::milliseconds expiring_soon_before{0};
  /// Delivered and dead deliveries are deleted this long after their last attempt.
  std::chrono::milliseconds retention{std::chrono::hours{24 * 30}};

  /// The webhook named `name`, or null.
  [[nodiscard]] const webhook_config* find_webhook(std::string_view name) const;
  /// The Teams endpoint named `name`, or null.
  [[nodiscard]] const teams_config* find_teams(std::string_view name) const;
  /// The portal's page for request `id` (`AR-00012`), or empty when no portal_url is set.
  [[nodiscard]] std::string request_link(std::string_view id) const;
};

/// Reads the `notifications` section (absent: none) with `r`'s strict getters; throws
/// config_error naming the file and line. Secrets are never quoted in a message.
[[nodiscard]] notifications_config read_notifications(const config_reader& r, const YAML::Node& n);

}  // namespace apono::broker::notify
