// A real SMTP server on loopback for the email notification tests: Debian's aiosmtpd running
// tests/support/smtp_receiver.py, which answers RCPT TO per a plan, offers STARTTLS or implicit
// TLS and AUTH when asked, and parses every message with Python's email package. Killed with the
// fixture.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace apono::test {

/// One message as the server got it.
struct received_mail {
  std::string mail_from;        ///< MAIL FROM
  std::vector<std::string> to;  ///< the accepted RCPT TO addresses
  bool tls = false;             ///< it came over TLS (STARTTLS or implicit)
  std::string auth;             ///< the login it was sent under; empty without AUTH
  std::string raw;              ///< the message as received
  boost::json::object parsed;   ///< Python's reading: content_type, headers, parts, defects...
  /// The header `name` as Python decoded it ("" when absent).
  [[nodiscard]] std::string header(const std::string& name) const;
  /// The decoded text of the part with `content_type` ("" when there is none).
  [[nodiscard]] std::string part(const std::string& content_type) const;
};

/// Runs the server until destruction.
class smtp_receiver {
 public:
  /// Starts it with `config` (see the script: tls_cert, tls_key, implicit, auth, exclude_auth,
  /// rcpt); `dir` is added. Waits until it listens.
  explicit smtp_receiver(boost::json::object config = {});
  ~smtp_receiver();
  smtp_receiver(const smtp_receiver&) = delete;
  smtp_receiver& operator=(const smtp_receiver&) = delete;
  /// The port it listens on, on 127.0.0.1.
  [[nodiscard]] int port() const { return port_; }
  /// Every message so far, in arrival order.
  [[nodiscard]] std::vector<received_mail> mails() const;
  /// Every event line (rcpt answers, auth attempts, messages), parsed.
  [[nodiscard]] std::vector<boost::json::object> events() const;
  /// Polls until `done(mails())`; throws naming `what` and listing the events when `timeout`
  /// passes first.
  std::vector<received_mail> wait_for(
      const std::string& what, const std::function<bool(const std::vector<received_mail>&)>& done,
      std::chrono::milliseconds timeout = std::chrono::seconds{60}) const;
  /// The server's output so far (for failure messages).
  [[nodiscard]] std::string describe() const;

 private:
  temp_dir dir_{"smtp-receiver"};
  std::unique_ptr<child_process> proc_;
  int port_ = 0;
};

/// A self-signed certificate for 127.0.0.1 (its own CA) made with the openssl CLI in `dir`:
/// `dir`/cert.pem and `dir`/key.pem.
void make_loopback_certificate(const std::filesystem::path& dir);

}  // namespace apono::test
