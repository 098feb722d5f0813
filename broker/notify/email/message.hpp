// The email of a notification: an RFC 5322 message, MIME multipart/alternative with a
// text/plain and a text/html part in UTF-8 (quoted-printable, so no line passes 76
// characters), built from the notice. Everything that identifies it is stable per delivery
// (Message-ID, boundary, Date: the event's time), so every attempt sends the same message and a
// recipient's mail system can recognise a retry.
#pragma once

#include <string>
#include <string_view>

#include "broker/notify/notice.hpp"

namespace apono::broker::notify::email {

/// Who the message goes to and comes from, and what identifies it.
struct envelope {
  std::string from;          ///< the From header as configured (`Apono <apono@example.com>`)
  std::string from_address;  ///< its address, whose domain names the Message-ID
  std::string to_name;       ///< the recipient's user name
  std::string to_address;    ///< the recipient's address
  std::string message_key;   ///< the delivery's idempotency key (`msg_57_1a2b3c4d`)
  std::string date;          ///< the event's time, RFC 3339 (the body's `timestamp`)
};

/// The whole message, CRLF line ends, every line at most 78 characters, ASCII only.
[[nodiscard]] std::string build_message(const notice& n, const envelope& e);

/// `text` in quoted-printable (RFC 2045 6.7), lines joined by CRLF, at most 76 characters each.
[[nodiscard]] std::string quoted_printable(std::string_view text);

/// A header value: as is when it is printable ASCII, else RFC 2047 encoded-words (UTF-8,
/// base64), folded so no line passes 78 characters. `name` is the header's name, whose length
/// the first line counts.
[[nodiscard]] std::string header_value(std::string_view name, std::string_view value);

/// An RFC 3339 instant as an RFC 5322 date (`Sun, 06 Dec 2026 15:04:05 +0000`); empty when it
/// does not parse.
[[nodiscard]] std::string rfc5322_date(std::string_view rfc3339);

}  // namespace apono::broker::notify::email
