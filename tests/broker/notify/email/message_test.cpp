// The email message: quoted-printable within 76 characters per line and reversible, RFC 2047
// headers, HTML escaping, dot-stuffing, and a whole message of ASCII lines no longer than 78
// characters with both parts, stable per delivery.
#include "broker/notify/email/message.hpp"

#include <catch2/catch.hpp>

#include <sstream>

#include "broker/html.hpp"
#include "broker/notify/email/smtp_client.hpp"

namespace email = apono::broker::notify::email;
using apono::broker::notify::notice;

namespace {

// Quoted-printable decoded (the inverse, as RFC 2045 defines it), for round trips.
std::string qp_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '=' && i + 2 < s.size() && s[i + 1] == '\r' && s[i + 2] == '\n') {
      i += 2;
    } else if (s[i] == '=' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
      out += '\n';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The decoded body of the part with `type` in message `m`.
std::string part_of(const std::string& m, const std::string& type) {
  const auto at = m.find("Content-Type: " + type);
  const auto start = m.find("\r\n\r\n", at) + 4;
  const auto end = m.find("\r\n--=_apono_", start);
  return qp_decode(m.substr(start, end - start));
}

std::size_t longest_line(const std::string& s) {
  std::size_t longest = 0, start = 0;
  while (start <= s.size()) {
    auto end = s.find("\r\n", start);
    if (end == std::string::npos) end = s.size();
    longest = std::max(longest, end - start);
    start = end + 2;
  }
  return longest;
}

}  // namespace

TEST_CASE("quoted-printable: short lines, only ASCII, and it decodes to the text") {
  const std::string text = "café ☕ = 100% <ok>\n" + std::string(200, 'x') + " \ntrailing tab\t\n" +
                           std::string(90, '=') + "\nend";
  const auto qp = email::quoted_printable(text);
  CHECK(longest_line(qp) <= 76);
  for (unsigned char c : qp) CHECK(c < 128);
  CHECK(qp.find(" \r\n") == std::string::npos);  // trailing spaces are encoded
  CHECK(qp.find("\t\r\n") == std::string::npos);
  CHECK(qp_decode(qp) == text);
  CHECK(email::quoted_printable("caf\xc3\xa9") == "caf=C3=A9");
}

TEST_CASE("headers: ASCII as is, the rest as UTF-8 encoded-words within 78 characters") {
  CHECK(email::header_value("Subject", "[apono] AR-00012 was approved") ==
        "[apono] AR-00012 was approved");
  const std::string long_ascii =
      "[apono] AR-00012 waits for your approval: alice asks for read_write on appdb, analytics";
  const auto folded = email::header_value("Subject", long_ascii);
  CHECK(folded.find("\r\n ") != std::string::npos);
  CHECK(longest_line("Subject: " + folded) <= 78);
  std::string unfolded = folded;  // RFC 5322 unfolding: remove each CRLF before the space
  for (auto at = unfolded.find("\r\n"); at != std::string::npos; at = unfolded.find("\r\n"))
    unfolded.erase(at, 2);
  CHECK(unfolded == long_ascii);
  CHECK(email::header_value("Subject", std::string(90, 'x')).starts_with("=?UTF-8?B?"));
  const std::string long_utf8 =
      "[apono] AR-00012 waits for your approval: ☕ café " + std::string(60, 'y') + " ünïcödé";
  const auto v = email::header_value("Subject", long_utf8);
  CHECK(v.starts_with("=?UTF-8?B?"));
  CHECK(longest_line("Subject: " + v) <= 78);
  for (unsigned char c : v) CHECK(c < 128);
  CHECK(email::rfc5322_date("2026-12-06T15:04:05.123Z") == "Sun, 06 Dec 2026 15:04:05 +0000");
  CHECK(email::rfc5322_date("yesterday").empty());
}

TEST_CASE("HTML escaping and dot-stuffing") {
  CHECK(apono::broker::html_escape("<a href=\"x\">'&'</a>") ==
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  CHECK(email::dot_stuff(".one\r\ntwo\r\n..three") == "..one\r\ntwo\r\n...three\r\n.\r\n");
  CHECK(email::dot_stuff("bare\nlf\n") == "bare\r\nlf\r\n.\r\n");
}

TEST_CASE("a message: headers, both parts, short ASCII lines, the same bytes every time") {
  notice n;
  n.type = "request.pending_approval";
  n.request_id = "AR-00012";
  n.title = "AR-00012 waits for your approval: alice asks for read_write on appdb";
  n.lines = {"alice asks for read_write on appdb for 1h. Justification: <b>café</b> " +
             std::string(120, 'z')};
  n.facts = {{"Request", "AR-00012"}, {"Justification", "<b>café</b>"}};
  n.commands = {{"Approve", "apono approve AR-00012"}};
  n.link = "https://apono.example.com/requests/AR-00012";
  const email::envelope e{"Apono <apono@example.com>", "apono@example.com", "approver",
                          "approver@example.com",      "msg_57_1a2b3c4d",   "2026-12-06T15:04:05Z"};
  const auto m = email::build_message(n, e);
  CHECK(m == email::build_message(n, e));
  CHECK(longest_line(m) <= 78);
  for (unsigned char c : m) CHECK(c < 128);
  CHECK(m.starts_with("Date: Sun, 06 Dec 2026 15:04:05 +0000\r\n"));
  CHECK(m.find("\r\nMessage-ID: <msg_57_1a2b3c4d@example.com>\r\n") != std::string::npos);
  CHECK(m.find("\r\nTo: approver <approver@example.com>\r\n") != std::string::npos);
  CHECK(m.find("Content-Type: text/plain; charset=UTF-8") != std::string::npos);
  CHECK(m.find("Content-Type: text/html; charset=UTF-8") != std::string::npos);
  CHECK(m.find("boundary=\"=_apono_msg_57_1a2b3c4d\"") != std::string::npos);
  CHECK(m.ends_with("--=_apono_msg_57_1a2b3c4d--\r\n"));
  // The HTML part escapes what the text part keeps.
  const auto html = part_of(m, "text/html");
  CHECK(html.find("&lt;b&gt;café&lt;/b&gt;") != std::string::npos);
  CHECK(html.find("<b>café</b>") == std::string::npos);
  CHECK(html.find("<a href=\"https://apono.example.com/requests/AR-00012\">") != std::string::npos);
  const auto text = part_of(m, "text/plain");
  CHECK(text.find("<b>café</b>") != std::string::npos);
  CHECK(text.find("apono approve AR-00012") != std::string::npos);
}
