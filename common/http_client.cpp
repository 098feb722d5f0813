// Synchronous HTTP(S) client over Beast: each request runs a private io_context until the
// request's coroutine finishes or its deadline passes, so callers get plain blocking calls with
// real timeouts, and the TLS connection is kept for the next request.
#include "common/http_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <atomic>
#include <exception>
#include <optional>
#include <stdexcept>
#include <utility>

namespace apono::common {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::uint64_t response_body_limit = 64ull * 1024 * 1024;

std::string describe(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

// Not an error the caller should see: the kept-alive connection went away before any of the
// response arrived, so the request can be sent again on a fresh one.
struct stale_connection {};

}  // namespace

std::string url_encode(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

struct http_client::impl {
  explicit impl(http_client_options o) : options(std::move(o)) { parse_base_url(); }

  http_client_options options;
  bool tls = false;
  std::string host;  // without IPv6 brackets, for connecting and verification
  bool host_is_ip = false;
  std::string port;
  std::string origin;  // scheme://host:port, for error messages
  std::string host_header;
  std::string path_prefix;  // base_url's path, without a trailing slash
  net::io_context ioc;
  std::optional<ssl::context> ssl_ctx;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  std::chrono::milliseconds current_timeout{};
  bool timed_out = false;  // set when the outer deadline had to cut the request short
  std::atomic<bool> cancelled{false};

  void parse_base_url() {
    auto parsed = boost::urls::parse_uri(options.base_url);
    if (!parsed) throw std::runtime_error("invalid URL " + options.base_url);
    const auto& u = *parsed;
    const std::string scheme(u.scheme());
    if (scheme == "https") {
      tls = true;
    } else if (scheme != "http") {
      throw std::runtime_error("unsupported URL scheme in " + options.base_url +
                               " (use https:// or http://)");
    }
    host = std::string(u.host_address());
    if (host.empty()) throw std::runtime_error("no host in URL " + options.base_url);
    host_is_ip = u.host_type() == boost::urls::host_type::ipv4 ||
                 u.host_type() == boost::urls::host_type::ipv6;
    port = u.has_port() ? std::string(u.port()) : (tls ? "443" : "80");
    const std::string bracketed =
        u.host_type() == boost::urls::host_type::ipv6 ? "[" + host + "]" : host;
    origin = scheme + "://" + bracketed + ":" + port;
    host_header = bracketed + (u.has_port() ? ":" + port : "");
    path_prefix = std::string(u.encoded_path());
    while (!path_prefix.empty() && path_prefix.back() == '/') path_prefix.pop_back();
    if (tls) make_ssl_context();
  }

  void make_ssl_context() {
    ssl_ctx.emplace(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ssl_ctx->native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    if (options.ca_file.empty()) {
      ssl_ctx->set_default_verify_paths(ec);
    } else {
      ssl_ctx->load_verify_file(options.ca_file.string(), ec);
    }
    if (ec)
      throw std::runtime_error(
          "cannot load CA certificates from " +
          (options.ca_file.empty() ? std::string("the system store") : options.ca_file.string()) +
          ": " + ec.message());
    ssl_ctx->set_verify_mode(ssl::verify_peer);
  }

  [[nodiscard]] bool connected() const {
    return tls ? secure && beast::get_lowest_layer(*secure).socket().is_open()
               : plain && plain->socket().is_open();
  }

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*secure) : *plain; }

  void disconnect() {
    boost::system::error_code ignored;
    if (secure) beast::get_lowest_layer(*secure).socket().close(ignored);
    if (plain) plain->socket().close(ignored);
    secure.reset();
    plain.reset();
    buffer.clear();
  }

  [[noreturn]] void fail_io(const char* what, boost::system::error_code ec) {
    disconnect();
    if (timed_out || ec == beast::error::timeout)
      throw std::runtime_error("timed out after " + describe(current_timeout) + " waiting for " +
                               origin);
    throw std::runtime_error(std::string(what) + " " + origin + ": " + ec.message());
  }

  net::awaitable<void> connect() {
    disconnect();
    tcp::resolver resolver(ioc);
    auto [rec, endpoints] = co_await resolver.async_resolve(
        host, port, host_is_ip ? tcp::resolver::numeric_host : tcp::resolver::flags{}, use_tuple);
    if (rec) fail_io("cannot reach", rec);

    if (tls) {
      secure.emplace(ioc, *ssl_ctx);
    } else {
      plain.emplace(ioc);
    }
    lowest().expires_after(current_timeout);
    auto [cec, ep] = co_await lowest().async_connect(endpoints, use_tuple);
    (void)ep;
    if (cec) fail_io("cannot reach", cec);
    if (!tls) co_return;

    SSL* ssl = secure->native_handle();
    if (host_is_ip) {
      // SSL_set1_host matches DNS names only; an IP literal must match an IP SAN.
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) != 1)
        throw std::runtime_error("cannot verify " + origin + ": bad IP address");
    } else {
      if (SSL_set1_host(ssl, host.c_str()) != 1 || SSL_set_tlsext_host_name(ssl, host.c_str()) != 1)
        throw std::runtime_error("cannot verify " + origin + ": bad host name");
    }
    auto [hec] = co_await secure->async_handshake(ssl::stream_base::client, use_tuple);
    if (hec) {
      const long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK && !timed_out && hec != beast::error::timeout) {
        disconnect();
        throw std::runtime_error("TLS verification failed for " + origin +
                                 ": certificate verify failed (" +
                                 X509_verify_cert_error_string(verify) + ")");
      }
      fail_io("TLS handshake failed with", hec);
    }
  }

  template <class Stream>
  net::awaitable<http_result> exchange(Stream& stream, const http::request<http::string_body>& req,
                                       bool reused) {
    lowest().expires_after(current_timeout);
    auto [wec, written] = co_await http::async_write(stream, req, use_tuple);
    (void)written;
    // A peer that closed a kept-alive connection may only show it on the write.
    if (wec && reused && !timed_out && wec != beast::error::timeout) throw stale_connection{};
    if (wec) fail_io("cannot reach", wec);

    http::response_parser<http::string_body> parser;
    parser.body_limit(response_body_limit);
    auto [rec, read] = co_await http::async_read(stream, buffer, parser, use_tuple);
    (void)read;
    if (rec) {
      if (reused && !parser.got_some() && buffer.size() == 0 && !timed_out &&
          rec != beast::error::timeout)
        throw stale_connection{};
      fail_io("lost the connection to", rec);
    }
    auto res = parser.release();
    http_result out;
    out.status = static_cast<int>(res.result_int());
    out.content_type = std::string(res[http::field::content_type]);
    out.next_cursor = std::string(res["X-Next-Cursor"]);
    out.retry_after = std::string(res[http::field::retry_after]);
    out.body = std::move(res.body());
    if (!res.keep_alive()) disconnect();
    co_return out;
  }

  net::awaitable<http_result> send(http::request<http::string_body> req) {
    const bool reused = connected();
    if (!reused) co_await connect();
    try {
      if (tls) co_return co_await exchange(*secure, req, reused);
      co_return co_await exchange(*plain, req, reused);
    } catch (const stale_connection&) {
    }
    // Once only: a second failure on a fresh connection is a real one.
    co_await connect();
    if (tls) co_return co_await exchange(*secure, req, false);
    co_return co_await exchange(*plain, req, false);
  }

  [[nodiscard]] std::string full_target(const std::string& target) const {
    return path_prefix + (target.empty() || target.front() != '/' ? "/" : "") + target;
  }

  // With `exact`, the caller's headers are the only ones besides Host and Content-Length.
  http_result run(const std::string& method, const std::string& target, const std::string& body,
                  std::chrono::milliseconds timeout,
                  const std::vector<std::pair<std::string, std::string>>* exact = nullptr) {
    http::request<http::string_body> req;
    req.method_string(method);
    req.target(full_target(target));
    req.version(11);
    req.set(http::field::host, host_header);
    if (exact) {
      bool has_content_type = false;
      for (const auto& [name, value] : *exact) {
        if (name.find_first_of("\r\n") != std::string::npos ||
            value.find_first_of("\r\n") != std::string::npos)
          throw std::invalid_argument("HTTP header " + name + " contains a line break");
        if (beast::iequals(name, "host") || beast::iequals(name, "content-length"))
          throw std::invalid_argument("HTTP header " + name + " is set by the client");
        has_content_type = has_content_type || beast::iequals(name, "content-type");
        req.insert(name, value);
      }
      if (!body.empty() && !has_content_type)
        req.set(http::field::content_type, "application/json");
    } else {
      req.set(http::field::user_agent, "apono/0.1");
      req.set(http::field::accept, "application/json");
      if (!options.bearer_token.empty())
        req.set(http::field::authorization, "Bearer " + options.bearer_token);
      if (!body.empty()) req.set(http::field::content_type, "application/json");
    }
    req.body() = body;
    req.keep_alive(true);
    req.prepare_payload();

    if (cancelled) throw std::runtime_error("request to " + origin + " cancelled");
    current_timeout = timeout;
    timed_out = false;
    ioc.restart();
    std::optional<http_result> result;
    std::exception_ptr error;
    net::co_spawn(ioc, send(std::move(req)), [&](std::exception_ptr e, http_result r) {
      if (e) {
        error = e;
      } else {
        result = std::move(r);
      }
    });
    // The stream's own deadline covers connect, TLS and I/O and normally fires first. This one
    // is the backstop; it cannot interrupt a getaddrinfo already running (Asio only reports
    // the cancel once it returns), so a hung DNS lookup is bounded by the system resolver.
    ioc.run_for(timeout + std::chrono::milliseconds(100));
    if (!ioc.stopped()) {
      timed_out = true;
      boost::system::error_code ignored;
      if (secure) beast::get_lowest_layer(*secure).socket().close(ignored);
      if (plain) plain->socket().close(ignored);
      ioc.run();
    }
    if (cancelled) {
      disconnect();
      throw std::runtime_error("request to " + origin + " cancelled");
    }
    if (error) {
      disconnect();
      std::rethrow_exception(error);
    }
    if (!result) {
      disconnect();
      throw std::runtime_error("timed out after " + describe(timeout) + " waiting for " + origin);
    }
    return std::move(*result);
  }
};

http_client::http_client(http_client_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {}

http_client::~http_client() = default;

http_result http_client::request(const std::string& method, const std::string& target,
                                 const std::string& body) {
  return impl_->run(method, target, body, impl_->options.timeout);
}

http_result http_client::request(const std::string& method, const std::string& target,
                                 const std::string& body, std::chrono::milliseconds timeout) {
  return impl_->run(method, target, body, timeout);
}

http_result http_client::request(const std::string& method, const std::string& target,
                                 const std::string& body,
                                 const std::vector<std::pair<std::string, std::string>>& headers,
                                 std::chrono::milliseconds timeout) {
  return impl_->run(method, target, body, timeout, &headers);
}

const std::string& http_client::host_header() const {
  return impl_->host_header;
}

std::string http_client::request_target(const std::string& target) const {
  return impl_->full_target(target);
}

void http_client::set_token(std::string token) {
  impl_->options.bearer_token = std::move(token);
}

void http_client::cancel() {
  impl_->cancelled = true;
  // Posted, so the sockets are closed on the thread that runs the request; a request not yet
  // started finds the handler queued and the flag set.
  net::post(impl_->ioc, [im = impl_.get()] {
    im->timed_out = true;  // no retry on a fresh connection
    boost::system::error_code ignored;
    if (im->secure) beast::get_lowest_layer(*im->secure).socket().close(ignored);
    if (im->plain) im->plain->socket().close(ignored);
    im->ioc.stop();
  });
}

}  // namespace apono::common
