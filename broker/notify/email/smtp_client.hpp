// A small SMTP client (RFC 5321) for notifications: one message to one recipient per call, on a
// connection of its own, STARTTLS (RFC 3207) or implicit TLS verified against the system's or a
// configured CA, AUTH PLAIN or LOGIN (RFC 4954), and one deadline for the whole exchange. It
// runs a private io_context, like common::http_client, so callers get a plain blocking call.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "broker/notify/notify_config.hpp"

namespace apono::broker::notify::email {

/// Where and how to connect.
struct smtp_options {
  std::string host;                   ///< the server's name or address
  int port = 587;                     ///< its port
  smtp_tls tls = smtp_tls::starttls;  ///< how the connection is protected
  std::filesystem::path ca_file;      ///< PEM CA to verify it with; empty: the system's
  std::string helo = "aponod";        ///< the name given in EHLO
  std::string username;               ///< AUTH when not empty
  std::string password;               ///< AUTH's password (never in a message or a log line)
  std::chrono::milliseconds timeout{std::chrono::seconds{10}};  ///< the whole exchange
};

/// How sending went.
struct smtp_result {
  enum class outcome {
    sent,       ///< the server took the message (250 after DATA)
    temporary,  ///< try again later: a 4xx, no connection, TLS, a timeout, a refused login
    permanent,  ///< this message will never be taken: a 5xx to RCPT TO or to the message
  };
  outcome result = outcome::temporary;  ///< what happened
  int code = 0;                         ///< the last reply's code; 0 when none came
  std::string error{};  ///< one line: the step and the server's reply; never a credential
};

/// Sends `message` (a whole RFC 5322 message, CRLF line ends) from `mail_from` to `rcpt_to`.
/// Never throws.
[[nodiscard]] smtp_result smtp_send(const smtp_options& o, const std::string& mail_from,
                                    const std::string& rcpt_to, const std::string& message);

/// `message` with every line that starts with '.' doubled and the DATA terminator appended
/// (RFC 5321 4.5.2); bare LFs become CRLF.
[[nodiscard]] std::string dot_stuff(const std::string& message);

}  // namespace apono::broker::notify::email
