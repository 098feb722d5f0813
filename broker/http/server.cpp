// The broker's HTTPS listener, after Beast's advanced_server_flex_awaitable (TLS only): one
// coroutine per connection, each on its own strand, errors as values on the data path.
#include "broker/http/server.hpp"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "common/error.hpp"

namespace apono::broker::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;
using namespace std::chrono_literals;

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Bounds on how long a peer may hold a connection without making progress, so slow or
// silent clients cannot pin connections.
constexpr auto handshake_timeout = 30s;
constexpr auto idle_timeout = 60s;  // between requests, and for reading one request
constexpr auto write_timeout = 60s;
constexpr auto shutdown_timeout = 5s;
// After a 413 the rest of the body is read and dropped for a while: closing with unread
// input makes the kernel send a reset, and the client would lose the 413 it has not read yet.
constexpr auto drain_timeout = 5s;
constexpr std::size_t drain_limit = 64 * 1024 * 1024;

// The same error shape the API uses, so clients need one decoder.
response error_response(common::errc code, std::string_view message) {
  response r;
  r.status = common::http_status(code);
  r.body = common::error_body(code, message);
  return r;
}

bool is_parse_error(const boost::system::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
         ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

bool header_safe(std::string_view s) {
  return s.find_first_of("\r\n") == std::string_view::npos;
}

std::string path_only(std::string_view target) {
  return std::string(target.substr(0, target.find('?')));
}

}  // namespace

struct server::impl {
  impl(net::io_context& ioc, server_options options, handler h)
      : ioc_(ioc),
        options_(std::move(options)),
        handler_(std::move(h)),
        ssl_ctx_(ssl::context::tls_server),
        acceptor_(net::make_strand(ioc)) {
    if (!handler_) throw std::invalid_argument("http server needs a handler");
    load_tls();
    listen();
  }

  // One open connection, as stop() needs to reach it from any thread.
  struct connection {
    std::weak_ptr<tls_stream> stream;
    std::shared_ptr<net::cancellation_signal> cancel;
  };

  net::io_context& ioc_;
  server_options options_;
  handler handler_;
  ssl::context ssl_ctx_;
  tcp::acceptor acceptor_;  // on its own strand; touched only from there after start
  std::uint16_t port_ = 0;

  std::mutex mutex_;
  std::atomic<bool> stopped_{false};
  std::uint64_t next_id_ = 0;
  std::unordered_map<std::uint64_t, connection> connections_;

  void load_tls() {
    boost::system::error_code ec;
    SSL_CTX_set_min_proto_version(ssl_ctx_.native_handle(), TLS1_2_VERSION);
    SSL_CTX_set_options(ssl_ctx_.native_handle(),
                        SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    ssl_ctx_.use_certificate_chain_file(options_.cert_file.string(), ec);
    if (ec)
      throw std::runtime_error("cannot load TLS certificate " + options_.cert_file.string() + ": " +
                               ec.message());
    ssl_ctx_.use_private_key_file(options_.key_file.string(), ssl::context::pem, ec);
    if (ec)
      throw std::runtime_error("cannot load TLS key " + options_.key_file.string() + ": " +
                               ec.message());
  }

  void listen() {
    const std::string where =
        (options_.host.find(':') != std::string::npos ? "[" + options_.host + "]" : options_.host) +
        ":" + std::to_string(options_.port);
    auto fail = [&](const boost::system::error_code& ec) {
      throw std::runtime_error("cannot listen on " + where + ": " + ec.message());
    };
    boost::system::error_code ec;
    tcp::endpoint endpoint;
    if (auto address = net::ip::make_address(options_.host, ec); !ec) {
      endpoint = tcp::endpoint(address, options_.port);
    } else {
      tcp::resolver resolver(ioc_);
      auto results = resolver.resolve(options_.host, std::to_string(options_.port),
                                      tcp::resolver::passive, ec);
      if (ec) fail(ec);
      if (results.empty()) fail(net::error::host_not_found);
      endpoint = results.begin()->endpoint();
    }
    acceptor_.open(endpoint.protocol(), ec);
    if (ec) fail(ec);
    acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (ec) fail(ec);
    acceptor_.bind(endpoint, ec);
    if (ec) fail(ec);
    acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) fail(ec);
    port_ = acceptor_.local_endpoint(ec).port();
    if (ec) fail(ec);
  }

  static void start(const std::shared_ptr<impl>& self) {
    net::co_spawn(self->acceptor_.get_executor(), accept_loop(self), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("http accept loop ended: {}", ex.what());
      }
    });
  }

  void stop(const std::shared_ptr<impl>& self) {
    std::vector<connection> open;
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
      for (auto& [id, c] : connections_) open.push_back(c);
    }
    net::post(acceptor_.get_executor(), [self] {
      boost::system::error_code ignored;
      self->acceptor_.close(ignored);
    });
    for (auto& c : open) {
      auto stream = c.stream.lock();
      if (!stream) continue;
      // On the connection's strand, as neither the socket nor the signal is thread-safe.
      net::post(stream->get_executor(), [stream, cancel = c.cancel] {
        beast::get_lowest_layer(*stream).close();
        cancel->emit(net::cancellation_type::terminal);
      });
    }
  }

  static net::awaitable<void> accept_loop(std::shared_ptr<impl> self) {
    for (;;) {
      auto stream = std::make_shared<tls_stream>(net::make_strand(self->ioc_), self->ssl_ctx_);
      auto [ec] = co_await self->acceptor_.async_accept(beast::get_lowest_layer(*stream).socket(),
                                                        use_tuple);
      if (ec) {
        if (ec == net::error::operation_aborted || !self->acceptor_.is_open()) co_return;
        // Usually out of file descriptors: pause instead of spinning on the error.
        spdlog::warn("http accept failed: {}", ec.message());
        net::steady_timer pause(co_await net::this_coro::executor, 100ms);
        co_await pause.async_wait(use_tuple);
        continue;
      }
      // A response goes out in several TLS records; with Nagle's algorithm the last one waited
      // for the client's delayed ACK, 40 ms on every answer longer than a segment.
      boost::system::error_code nodelay_ec;
      beast::get_lowest_layer(*stream).socket().set_option(net::ip::tcp::no_delay(true),
                                                           nodelay_ec);
      self->open_connection(self, std::move(stream));
    }
  }

  void open_connection(const std::shared_ptr<impl>& self, std::shared_ptr<tls_stream> stream) {
    auto cancel = std::make_shared<net::cancellation_signal>();
    std::uint64_t id = 0;
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;  // the stream closes as it goes out of scope
      id = next_id_++;
      connections_.emplace(id, connection{stream, cancel});
    }
    auto executor = stream->get_executor();
    net::co_spawn(
        executor, session(self, std::move(stream)),
        net::bind_cancellation_slot(cancel->slot(), [self, id, cancel](std::exception_ptr e) {
          {
            std::lock_guard lock(self->mutex_);
            self->connections_.erase(id);
          }
          if (!e) return;
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            spdlog::error("http connection ended: {}", ex.what());
          }
        }));
  }

  static net::awaitable<void> session(std::shared_ptr<impl> self,
                                      std::shared_ptr<tls_stream> stream) {
    // After stop() cancels us, the remaining awaits must report errors, not throw.
    co_await net::this_coro::throw_if_cancelled(false);
    auto& socket = beast::get_lowest_layer(*stream);
    std::string remote;
    {
      boost::system::error_code ec;
      auto ep = socket.socket().remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
    }

    socket.expires_after(handshake_timeout);
    auto [hec] = co_await stream->async_handshake(ssl::stream_base::server, use_tuple);
    if (hec) {
      spdlog::debug("TLS handshake with {} failed: {}", remote, hec.message());
      co_return;
    }

    beast::flat_buffer buffer;
    while (co_await self->serve_one(*stream, buffer, remote)) {
    }

    socket.expires_after(shutdown_timeout);
    co_await stream->async_shutdown(use_tuple);
    socket.close();
  }

  // Reads one request and answers it; false when the connection should close.
  net::awaitable<bool> serve_one(tls_stream& stream, beast::flat_buffer& buffer,
                                 const std::string& remote) {
    auto& socket = beast::get_lowest_layer(stream);
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(options_.body_limit);
    socket.expires_after(idle_timeout);
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
    (void)n;
    if (ec == bhttp::error::body_limit) {
      auto res =
          error_response(common::errc::payload_too_large,
                         "request body exceeds " + std::to_string(options_.body_limit) + " bytes");
      if (co_await write_response(stream, res, 11, false)) co_await drain(stream);
      co_return false;
    }
    if (is_parse_error(ec)) {
      auto res =
          error_response(common::errc::invalid_argument, "malformed HTTP request: " + ec.message());
      co_await write_response(stream, res, 11, false);
      co_return false;
    }
    // End of stream, timeouts, resets and TLS errors: nobody left to answer.
    if (ec) co_return false;

    auto& msg = parser.get();
    // RFC 9112 §6.3: unless chunked is the final transfer coding, and applied once, the length
    // is unknown. Beast reads such a request as bodiless, which would run its body as the next
    // request. (The parser's view counts: the header's own chunked() accepts "chunked, chunked".)
    if (msg.count(bhttp::field::transfer_encoding) && !parser.chunked()) {
      auto res = error_response(common::errc::invalid_argument,
                                "malformed HTTP request: only the chunked transfer coding is "
                                "accepted");
      co_await write_response(stream, res, 11, false);
      co_return false;
    }
    const bool keep_alive = msg.keep_alive();
    const unsigned version = msg.version();
    const bool head = msg.method() == bhttp::verb::head;
    request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.authorization = std::string(msg[bhttp::field::authorization]);
    req.content_type = std::string(msg[bhttp::field::content_type]);
    req.body = std::move(msg.body());
    req.remote = remote;
    for (const auto& field : msg) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    const std::string method = req.method;
    const std::string path = path_only(req.target);

    response res;
    try {
      res = co_await handler_(std::move(req));
    } catch (const std::exception& e) {
      log_failure(method, path, e.what());
      res = error_response(common::errc::internal, "internal error");
    } catch (...) {
      log_failure(method, path, "unknown exception");
      res = error_response(common::errc::internal, "internal error");
    }
    co_return co_await write_response(stream, res, version, keep_alive, head) && keep_alive;
  }

  void log_failure(const std::string& method, const std::string& path, const char* what) const {
    // Cancellation by stop() is expected, not a bug worth an error line.
    if (stopped_)
      spdlog::debug("handler for {} {} ended at shutdown: {}", method, path, what);
    else
      spdlog::error("handler for {} {} failed: {}", method, path, what);
  }

  // True when the whole response went out.
  static net::awaitable<bool> write_response(tls_stream& stream, const response& r,
                                             unsigned version, bool keep_alive, bool head = false) {
    bhttp::response<bhttp::string_body> res;
    res.version(version);
    res.result(r.status >= 100 && r.status <= 999 ? static_cast<unsigned>(r.status) : 500u);
    res.set(bhttp::field::server, "aponod");
    if (!r.content_type.empty()) res.set(bhttp::field::content_type, r.content_type);
    res.set(bhttp::field::cache_control, "no-store");
    for (const auto& [name, value] : r.headers)
      if (!name.empty() && header_safe(name) && header_safe(value)) res.set(name, value);
    res.body() = r.body;
    res.keep_alive(keep_alive);
    res.prepare_payload();
    // RFC 9110 §9.3.2: the answer to HEAD has GET's headers and no body; a body would be read
    // as the start of the next answer on this connection.
    if (head) res.body().clear();
    beast::get_lowest_layer(stream).expires_after(write_timeout);
    auto [ec, n] = co_await bhttp::async_write(stream, res, use_tuple);
    (void)n;
    co_return !ec;
  }

  static net::awaitable<void> drain(tls_stream& stream) {
    auto& socket = beast::get_lowest_layer(stream);
    socket.expires_after(drain_timeout);
    std::array<char, 16 * 1024> scratch{};
    std::size_t total = 0;
    while (total < drain_limit) {
      auto [ec, n] = co_await stream.async_read_some(net::buffer(scratch), use_tuple);
      if (ec) break;
      total += n;
    }
  }
};

server::server(net::io_context& ioc, server_options options, handler h)
    : impl_(std::make_shared<impl>(ioc, std::move(options), std::move(h))) {
  impl::start(impl_);
}

server::~server() {
  stop();
}

std::uint16_t server::port() const {
  return impl_->port_;
}

void server::stop() {
  impl_->stop(impl_);
}

}  // namespace apono::broker::http
