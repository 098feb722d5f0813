// What Slack posts to aponod, read strictly: the form-encoded body of a slash command and the
// `payload=` JSON of an interaction. Anything malformed is a common::api_error
// (invalid_argument), which the router answers 400 with a one-line message.
#pragma once

#include <boost/json.hpp>

#include <initializer_list>
#include <map>
#include <string>
#include <string_view>

#include "broker/http/server.hpp"

namespace apono::broker::slack {

/// `/apono ...` as Slack sent it.
struct command {
  std::string command;       ///< `/apono`
  std::string text;          ///< what followed it
  std::string user_id;       ///< who typed it (`U...`)
  std::string channel_id;    ///< where
  std::string trigger_id;    ///< opens a modal for the next 3 s
  std::string response_url;  ///< for replies within 30 minutes
};

/// Decodes an `application/x-www-form-urlencoded` body (`+` is a space, `%XX` a byte); a key
/// given twice, a bad escape or a body past 64 KiB is refused.
[[nodiscard]] std::map<std::string, std::string> parse_form(std::string_view body);

/// The command in `req`: the content type must be form-encoded, and user_id and trigger_id
/// present.
[[nodiscard]] command parse_command(const http::request& req);

/// The interaction in `req`: the form's `payload` field, a JSON object with a string `type`.
[[nodiscard]] boost::json::object parse_interaction(const http::request& req);

/// The string at `path` in `o` (`{"user", "id"}`), or empty when any step is missing or not
/// of the expected type.
[[nodiscard]] std::string field(const boost::json::object& o,
                                std::initializer_list<std::string_view> path);

/// The string at `path`, or api_error(invalid_argument) naming the path when missing.
[[nodiscard]] std::string required_field(const boost::json::object& o,
                                         std::initializer_list<std::string_view> path);

}  // namespace apono::broker::slack
