// MIME assembly and its encodings. The message is ASCII on the wire (quoted-printable bodies,
// RFC 2047 headers), so it needs no 8BITMIME or SMTPUTF8 from the server.
#include "broker/notify/email/message.hpp"

#include <ctime>

#include "broker/html.hpp"
#include "common/secrets.hpp"
#include "common/time.hpp"

namespace apono::broker::notify::email {

namespace {

constexpr std::string_view crlf = "\r\n";

bool printable_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

// The domain of `address`, for the Message-ID (the sender's own domain, as RFC 5322 advises).
std::string domain_of(std::string_view address) {
  const auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string("apono.invalid")
                                      : std::string(address.substr(at + 1));
}

// `Name <addr>` with the display name encoded when it is not plain ASCII.
std::string from_header(const envelope& e) {
  const auto lt = e.from.rfind('<');
  if (lt == std::string::npos || printable_ascii(e.from)) return header_value("From", e.from);
  std::string name = e.from.substr(0, lt);
  while (!name.empty() && name.back() == ' ') name.pop_back();
  return header_value("From", name) + " <" + e.from_address + ">";
}

// A user name is shown as the display name only when it needs no quoting.
std::string to_header(const envelope& e) {
  for (char c : e.to_name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return "<" + e.to_address + ">";
  return e.to_name.empty() ? "<" + e.to_address + ">" : e.to_name + " <" + e.to_address + ">";
}

std::string plain_text(const notice& n) {
  std::string t = n.title + "\n\n";
  for (const auto& l : n.lines) t += l + "\n";
  if (!n.facts.empty()) {
    std::size_t width = 0;
    for (const auto& [k, v] : n.facts) width = std::max(width, k.size());
    t += "\n";
    for (const auto& [k, v] : n.facts)
      t += k + ":" + std::string(width - k.size() + 2, ' ') + v + "\n";
  }
  if (!n.commands.empty()) {
    t += "\nWhat to run:\n";
    for (const auto& c : n.commands) t += "  " + c.label + ":\n    " + c.command + "\n";
  }
  if (!n.link.empty()) t += "\nOpen it in the portal: " + n.link + "\n";
  t += "\n-- \napono, just-in-time access. This mail was sent by the broker; replies are not "
       "read.\n";
  return t;
}

std::string html_text(const notice& n) {
  std::string h =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html_escape(n.title) +
      "</title></head>\n<body style=\"font-family: sans-serif; line-height: 1.4\">\n<h2>" +
      html_escape(n.title) + "</h2>\n";
  for (const auto& l : n.lines) h += "<p>" + html_escape(l) + "</p>\n";
  if (!n.facts.empty()) {
    h += "<table style=\"border-collapse: collapse\">\n";
    for (const auto& [k, v] : n.facts)
      h += "<tr><th style=\"text-align: left; padding: 2px 12px 2px 0\">" + html_escape(k) +
           "</th><td>" + html_escape(v) + "</td></tr>\n";
    h += "</table>\n";
  }
  if (!n.commands.empty()) {
    h += "<p>What to run:</p>\n<ul>\n";
    for (const auto& c : n.commands)
      h += "<li>" + html_escape(c.label) + ": <code>" + html_escape(c.command) + "</code></li>\n";
    h += "</ul>\n";
  }
  if (!n.link.empty())
    h += "<p><a href=\"" + html_escape(n.link) + "\">Open " + html_escape(n.request_id) +
         " in the portal</a></p>\n";
  h += "<p style=\"color: #666; font-size: small\">apono, just-in-time access. This mail was sent "
       "by the broker; replies are not read.</p>\n</body></html>\n";
  return h;
}

}  // namespace

std::string quoted_printable(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  std::size_t line = 0;  // characters on the current output line
  auto put = [&](std::string_view token) {
    // A soft break keeps every line at 76 characters with its trailing '='.
    if (line + token.size() > 75) {
      out += "=\r\n";
      line = 0;
    }
    out += token;
    line += token.size();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    if (c == '\n') {
      out += crlf;
      line = 0;
      continue;
    }
    const bool line_end = i + 1 == text.size() || text[i + 1] == '\n' || text[i + 1] == '\r';
    const bool literal =
        (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !line_end);
    if (literal) {
      const char s[2] = {static_cast<char>(c), 0};
      put(std::string_view(s, 1));
    } else {
      const char s[3] = {'=', hex[c >> 4], hex[c & 15]};
      put(std::string_view(s, 3));
    }
  }
  return out;
}

std::string header_value(std::string_view name, std::string_view value) {
  if (printable_ascii(value)) {
    if (name.size() + 2 + value.size() <= 78) return std::string(value);
    // Folded at spaces (RFC 5322 2.2.3), so it stays readable as it is; a word too long for a
    // line makes it encoded-words below.
    std::string out;
    std::size_t line = name.size() + 2;
    std::size_t i = 0;
    bool fits = true;
    while (i < value.size() && fits) {
      auto space = value.find(' ', i + 1);
      if (space == std::string_view::npos) space = value.size();
      const auto word = value.substr(i, space - i);  // with its leading space, but the first
      if (line + word.size() > 78 && !out.empty()) {
        out += "\r\n";
        line = 0;
      }
      fits = line + word.size() <= 78;
      out += word;
      line += word.size();
      i = space;
    }
    if (fits) return out;
  }
  // Encoded-words of at most 42 bytes of UTF-8 each (56 base64 characters, 68 with the
  // wrapping), never splitting a character; the first line also holds `Name: `.
  std::string out;
  std::size_t i = 0;
  while (i < value.size()) {
    std::size_t n = std::min<std::size_t>(42, value.size() - i);
    while (i + n < value.size() && n > 0 &&
           (static_cast<unsigned char>(value[i + n]) & 0xC0) == 0x80)
      --n;
    if (n == 0) n = std::min<std::size_t>(42, value.size() - i);
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + common::base64(value.substr(i, n)) + "?=";
    i += n;
  }
  return out;
}

std::string rfc5322_date(std::string_view rfc3339) {
  auto t = common::parse_rfc3339(rfc3339);
  if (!t) return {};
  const std::time_t secs = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::system_clock::duration>(*t));
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
                tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string build_message(const notice& n, const envelope& e) {
  // '=' never appears in a quoted-printable body unescaped followed by '_': no part can hold
  // this boundary.
  const std::string boundary = "=_apono_" + e.message_key;
  std::string date = rfc5322_date(e.date);
  if (date.empty()) date = rfc5322_date(common::format_rfc3339(common::time_point{}));
  std::string m;
  auto header = [&](std::string_view name, const std::string& value) {
    m.append(name).append(": ").append(value).append(crlf);
  };
  header("Date", date);
  header("From", from_header(e));
  header("To", to_header(e));
  header("Subject", header_value("Subject", "[apono] " + n.title));
  header("Message-ID", "<" + e.message_key + "@" + domain_of(e.from_address) + ">");
  header("MIME-Version", "1.0");
  header("Content-Type", "multipart/alternative;\r\n boundary=\"" + boundary + "\"");
  // RFC 3834: machine-made, so vacation responders and the like stay quiet.
  header("Auto-Submitted", "auto-generated");
  header("X-Apono-Event", n.type.empty() ? std::string("unknown") : n.type);
  if (!n.request_id.empty()) header("X-Apono-Request", n.request_id);
  m.append(crlf);
  m.append("This is a MIME message: a plain-text and an HTML version.").append(crlf);
  for (const auto& [type, body] : {std::pair<const char*, std::string>{"text/plain", plain_text(n)},
                                   {"text/html", html_text(n)}}) {
    m.append(crlf).append("--").append(boundary).append(crlf);
    m.append("Content-Type: ").append(type).append("; charset=UTF-8").append(crlf);
    m.append("Content-Transfer-Encoding: quoted-printable").append(crlf).append(crlf);
    m.append(quoted_printable(body)).append(crlf);
  }
  m.append("--").append(boundary).append("--").append(crlf);
  return m;
}

}  // namespace apono::broker::notify::email
