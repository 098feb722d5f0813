// What a notification says to a person, read from its stored body (docs/notifications.md, "The
// body"): a title, a sentence or two, the request's facts, the exact CLI commands and the link
// to the portal's page. Email and Microsoft Teams render the same notice, so an event's wording
// is written once, in one table, and a new event is one entry there.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/notify/notify_config.hpp"

namespace apono::broker::notify {

/// A command the reader can run, with what it does.
struct notice_command {
  std::string label;    ///< `Approve`
  std::string command;  ///< `apono approve AR-00012`
};

/// One notification as people read it. Nothing in it is secret: it comes from the body, which
/// holds none.
struct notice {
  std::string type;                ///< the event type, `request.active`
  std::string request_id;          ///< `AR-00012`, or empty for an event about no request
  std::string title;               ///< `AR-00012 is active: read_write on appdb until 16:04 UTC`
  std::vector<std::string> lines;  ///< what happened, sentence by sentence
  std::vector<std::pair<std::string, std::string>> facts;  ///< title -> value, in order
  std::vector<notice_command> commands;                    ///< what to run next
  std::string link;  ///< the portal's page for the request; empty without portal_url
};

/// The notice of the stored body `payload` (`{"type", "timestamp", "version", "data"}`), linking
/// to the portal per `cfg.portal_url`. A body that does not parse gives a notice that says so
/// (a body is always the broker's own, so this is a bug, never a crash).
[[nodiscard]] notice make_notice(std::string_view payload, const notifications_config& cfg);

}  // namespace apono::broker::notify
