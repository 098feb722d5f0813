// The SMTP exchange as one coroutine on a private io_context. A failed step throws a `failure`
// inside the coroutine, caught at its top and turned into the result; nothing escapes.
#include "broker/notify/email/smtp_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cctype>
#include <exception>
#include <optional>
#include <set>

#include "common/secrets.hpp"

namespace apono::broker::notify::email {

namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using outcome = smtp_result::outcome;

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t max_reply = 64 * 1024;  // a server's reply, all its lines

struct failure {
  smtp_result result;
};

[[noreturn]] void fail(outcome o, int code, std::string error) {
  throw failure{{o, code, std::move(error)}};
}

// One reply: its code and its lines' texts.
struct reply {
  int code = 0;
  std::vector<std::string> lines;
  [[nodiscard]] std::string text() const {
    std::string t;
    for (const auto& l : lines) t += (t.empty() ? "" : " ") + l;
    // A reply can be long and, rarely, echo what was sent; the step names what it was.
    if (t.size() > 200) t = t.substr(0, 200) + "...";
    for (char& c : t)
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    return t;
  }
};

struct session {
  session(net::io_context& ioc, ssl::context& ctx, const smtp_options& o)
      : stream(ioc, ctx), opts(o) {}

  ssl::stream<tcp::socket> stream;
  const smtp_options& opts;
  bool secure = false;
  std::string buffer;
  std::string where;  // host:port, for messages

  net::awaitable<void> write(std::string_view data, const char* step) {
    auto [ec, n] =
        secure ? co_await net::async_write(stream, net::buffer(data), use_tuple)
               : co_await net::async_write(stream.next_layer(), net::buffer(data), use_tuple);
    (void)n;
    if (ec)
      fail(outcome::temporary, 0,
           std::string(step) + ": lost the connection to " + where + ": " + ec.message());
  }

  net::awaitable<std::string> read_line(const char* step) {
    auto buf = net::dynamic_buffer(buffer, max_reply);
    auto [ec, n] =
        secure ? co_await net::async_read_until(stream, buf, "\r\n", use_tuple)
               : co_await net::async_read_until(stream.next_layer(), buf, "\r\n", use_tuple);
    if (ec)
      fail(outcome::temporary, 0,
           std::string(step) + ": no answer from " + where + ": " + ec.message());
    std::string line = buffer.substr(0, n - 2);
    buffer.erase(0, n);
    co_return line;
  }

  net::awaitable<reply> read_reply(const char* step) {
    reply r;
    std::size_t total = 0;
    while (true) {
      auto line = co_await read_line(step);
      total += line.size();
      if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(line[0])) ||
          !std::isdigit(static_cast<unsigned char>(line[1])) ||
          !std::isdigit(static_cast<unsigned char>(line[2])) ||
          (line.size() > 3 && line[3] != ' ' && line[3] != '-') || total > max_reply)
        fail(outcome::temporary, 0, std::string(step) + ": " + where + " did not answer SMTP");
      const int code = std::stoi(line.substr(0, 3));
      if (r.code != 0 && code != r.code)
        fail(outcome::temporary, 0, std::string(step) + ": " + where + " did not answer SMTP");
      r.code = code;
      r.lines.push_back(line.size() > 4 ? line.substr(4) : std::string());
      if (line.size() == 3 || line[3] == ' ') co_return r;
    }
  }

  // Sends `command` (CRLF added) and reads the reply; a reply outside `ok` fails the step: 4xx
  // always temporary, 5xx permanent when `permanent_5xx` (the server refuses this recipient or
  // this message) and temporary otherwise (its configuration or ours, which an admin can fix).
  net::awaitable<reply> command(std::string_view command, const char* step, int ok,
                                bool permanent_5xx = false) {
    co_await write(std::string(command) + "\r\n", step);
    auto r = co_await read_reply(step);
    if (r.code / 100 != ok / 100 && r.code != ok) {
      const bool permanent = permanent_5xx && r.code >= 500;
      fail(permanent ? outcome::permanent : outcome::temporary, r.code,
           std::string(step) + ": " + where + " answered " + std::to_string(r.code) + " " +
               r.text());
    }
    co_return r;
  }

  net::awaitable<void> handshake() {
    SSL* s = stream.native_handle();
    boost::system::error_code ec;
    (void)net::ip::make_address(opts.host, ec);
    if (!ec) {
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), opts.host.c_str()) != 1)
        fail(outcome::temporary, 0, "TLS: cannot verify " + where + ": bad IP address");
    } else if (SSL_set1_host(s, opts.host.c_str()) != 1 ||
               SSL_set_tlsext_host_name(s, opts.host.c_str()) != 1) {
      fail(outcome::temporary, 0, "TLS: cannot verify " + where + ": bad host name");
    }
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple);
    if (hec) {
      const long verify = SSL_get_verify_result(s);
      if (verify != X509_V_OK)
        fail(outcome::temporary, 0,
             "TLS verification failed for " + where + ": certificate verify failed (" +
                 X509_verify_cert_error_string(verify) + ")");
      fail(outcome::temporary, 0, "TLS handshake failed with " + where + ": " + hec.message());
    }
    secure = true;
    buffer.clear();  // nothing read before TLS may be taken as said inside it (RFC 3207 4.2)
  }

  // EHLO; the extensions the server offers, upper-cased keywords with their parameters.
  net::awaitable<std::set<std::string>> ehlo() {
    auto r = co_await command("EHLO " + opts.helo, "EHLO", 250);
    std::set<std::string> ext;
    for (std::size_t i = 1; i < r.lines.size(); ++i) {
      std::string l = r.lines[i];
      for (char& c : l) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      ext.insert(l);
    }
    co_return ext;
  }

  static bool offers(const std::set<std::string>& ext, std::string_view keyword) {
    for (const auto& e : ext)
      if (e == keyword ||
          (e.starts_with(keyword) && e.size() > keyword.size() && e[keyword.size()] == ' '))
        return true;
    return false;
  }

  static bool offers_auth(const std::set<std::string>& ext, std::string_view mech) {
    for (const auto& e : ext) {
      if (!e.starts_with("AUTH ") && !e.starts_with("AUTH=")) continue;
      std::string padded = " " + e.substr(5) + " ";
      if (padded.find(" " + std::string(mech) + " ") != std::string::npos) return true;
    }
    return false;
  }

  net::awaitable<void> authenticate(const std::set<std::string>& ext) {
    // The credentials go only into these commands, never into a message: a failure names the
    // step and the server's reply code.
    if (offers_auth(ext, "PLAIN")) {
      const std::string token = common::base64(std::string(1, '\0') + opts.username +
                                               std::string(1, '\0') + opts.password);
      co_await write("AUTH PLAIN " + token + "\r\n", "AUTH PLAIN");
      auto r = co_await read_reply("AUTH PLAIN");
      if (r.code != 235)
        fail(outcome::temporary, r.code,
             "AUTH PLAIN: " + where + " refused the login (" + std::to_string(r.code) + ")");
      co_return;
    }
    if (offers_auth(ext, "LOGIN")) {
      co_await command("AUTH LOGIN", "AUTH LOGIN", 334);
      co_await command(common::base64(opts.username), "AUTH LOGIN", 334);
      co_await write(common::base64(opts.password) + "\r\n", "AUTH LOGIN");
      auto r = co_await read_reply("AUTH LOGIN");
      if (r.code != 235)
        fail(outcome::temporary, r.code,
             "AUTH LOGIN: " + where + " refused the login (" + std::to_string(r.code) + ")");
      co_return;
    }
    fail(outcome::temporary, 0,
         "AUTH: " + where + " offers neither PLAIN nor LOGIN" +
             (secure ? std::string() : std::string(" (some servers offer AUTH only over TLS)")));
  }

  net::awaitable<void> run(const std::string& from, const std::string& to,
                           const std::string& data) {
    tcp::resolver resolver(stream.get_executor());
    auto [rec, endpoints] =
        co_await resolver.async_resolve(opts.host, std::to_string(opts.port), use_tuple);
    if (rec) fail(outcome::temporary, 0, "cannot resolve " + where + ": " + rec.message());
    auto [cec, ep] = co_await net::async_connect(stream.next_layer(), endpoints, use_tuple);
    (void)ep;
    if (cec) fail(outcome::temporary, 0, "cannot reach " + where + ": " + cec.message());
    if (opts.tls == smtp_tls::implicit) co_await handshake();
    auto greeting = co_await read_reply("greeting");
    if (greeting.code != 220)
      fail(outcome::temporary, greeting.code,
           "greeting: " + where + " answered " + std::to_string(greeting.code) + " " +
               greeting.text());
    auto ext = co_await ehlo();
    if (opts.tls == smtp_tls::starttls) {
      if (!offers(ext, "STARTTLS"))
        fail(outcome::temporary, 0,
             "STARTTLS: " + where + " does not offer it (tls: starttls requires it)");
      co_await command("STARTTLS", "STARTTLS", 220);
      co_await handshake();
      ext = co_await ehlo();
    }
    if (!opts.username.empty()) co_await authenticate(ext);
    co_await command("MAIL FROM:<" + from + ">", "MAIL FROM", 250);
    co_await command("RCPT TO:<" + to + ">", "RCPT TO", 250, true);
    co_await command("DATA", "DATA", 354);
    co_await write(dot_stuff(data), "DATA");
    auto r = co_await read_reply("end of DATA");
    if (r.code != 250)
      fail(r.code >= 500 ? outcome::permanent : outcome::temporary, r.code,
           "end of DATA: " + where + " answered " + std::to_string(r.code) + " " + r.text());
    // Sent: QUIT is a courtesy, and neither its answer nor a failure to send it changes that.
    const std::string_view quit = "QUIT\r\n";
    if (secure)
      (void)co_await net::async_write(stream, net::buffer(quit), use_tuple);
    else
      (void)co_await net::async_write(stream.next_layer(), net::buffer(quit), use_tuple);
  }
};

std::string describe(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

bool clean_address(const std::string& a) {
  return !a.empty() && a.size() < 320 && a.find_first_of("<>\r\n \t") == std::string::npos;
}

}  // namespace

std::string dot_stuff(const std::string& message) {
  std::string out;
  out.reserve(message.size() + 64);
  bool line_start = true;
  for (std::size_t i = 0; i < message.size(); ++i) {
    const char c = message[i];
    if (line_start && c == '.') out += '.';
    if (c == '\n' && (i == 0 || message[i - 1] != '\r')) out += '\r';
    out += c;
    line_start = c == '\n';
  }
  if (!line_start) out += "\r\n";
  out += ".\r\n";
  return out;
}

smtp_result smtp_send(const smtp_options& o, const std::string& mail_from,
                      const std::string& rcpt_to, const std::string& message) {
  const std::string where = o.host + ":" + std::to_string(o.port);
  if (!clean_address(mail_from) || !clean_address(rcpt_to))
    return {outcome::permanent, 0, "not a plain address (no spaces, <, > or line breaks)"};
  try {
    net::io_context ioc;
    ssl::context ctx(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    if (o.ca_file.empty())
      ctx.set_default_verify_paths(ec);
    else
      ctx.load_verify_file(o.ca_file.string(), ec);
    if (ec)
      return {outcome::temporary, 0,
              "cannot load CA certificates from " +
                  (o.ca_file.empty() ? std::string("the system store") : o.ca_file.string()) +
                  ": " + ec.message()};
    ctx.set_verify_mode(ssl::verify_peer);
    session s(ioc, ctx, o);
    s.where = where;
    std::optional<smtp_result> result;
    net::co_spawn(ioc, s.run(mail_from, rcpt_to, message), [&](std::exception_ptr e) {
      if (!e) {
        result = smtp_result{outcome::sent, 250, {}};
        return;
      }
      try {
        std::rethrow_exception(e);
      } catch (const failure& f) {
        result = f.result;
      } catch (const std::exception& x) {
        result = smtp_result{outcome::temporary, 0, where + ": " + x.what()};
      }
    });
    ioc.run_for(o.timeout);
    if (!ioc.stopped()) {
      // The deadline: close the socket so every pending step ends, then let them unwind.
      boost::system::error_code ignored;
      s.stream.next_layer().close(ignored);
      ioc.run();
      return {outcome::temporary, 0,
              "timed out after " + describe(o.timeout) + " talking to " + where};
    }
    if (!result) return {outcome::temporary, 0, "no result from " + where};
    return *result;
  } catch (const std::exception& e) {
    return {outcome::temporary, 0, where + ": " + e.what()};
  }
}

}  // namespace apono::broker::notify::email
