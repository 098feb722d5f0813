// The broker's HTTPS server: Beast over Asio coroutines. It knows nothing of the API; it
// reads requests, hands them to one handler coroutine and writes what that returns.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace apono::broker::http {

namespace net = boost::asio;

/// A request as handlers see it.
struct request {
  std::string method;         ///< GET, POST, ...
  std::string target;         ///< path and query, as sent
  std::string authorization;  ///< the Authorization header, empty when absent
  std::string content_type;   ///< the Content-Type header
  std::string body;           ///< the whole body (bounded by the server's limit)
  std::string remote;         ///< peer address, for logs
  /// Every request header, names lower-cased, in arrival order; never logged.
  std::vector<std::pair<std::string, std::string>> headers;
};

/// A response; content_type defaults to JSON.
struct response {
  int status = 200;                                          ///< HTTP status
  std::string body;                                          ///< body bytes
  std::string content_type = "application/json";             ///< Content-Type; empty: none (204)
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra headers
};

/// Handles one request. Contract: never throws (the server answers 500 if it does, and logs
/// only the method, the path without its query and the exception text, never headers or
/// body); runs on the connection's strand; may suspend (long-poll). When the server stops,
/// the handler's pending await is cancelled (terminal cancellation: a timer wait completes
/// with operation_aborted) and it must then return promptly.
using handler = std::function<net::awaitable<response>(request)>;

/// Server settings.
struct server_options {
  std::string host = "127.0.0.1";        ///< address to bind
  std::uint16_t port = 8443;             ///< 0 picks a free port
  std::filesystem::path cert_file;       ///< PEM certificate chain
  std::filesystem::path key_file;        ///< PEM private key
  std::size_t body_limit = 1024 * 1024;  ///< larger bodies get 413 and the connection closes
};

/// Accepts TLS connections and serves HTTP/1.1 with keep-alive on the given io_context.
class server {
 public:
  /// Binds and listens at once (throws std::runtime_error when it cannot); serving starts
  /// when the io_context runs.
  server(net::io_context& ioc, server_options options, handler h);
  ~server();
  /// The port actually bound (useful with port 0).
  [[nodiscard]] std::uint16_t port() const;
  /// Stops accepting, closes every connection and cancels in-flight handlers (see `handler`);
  /// io_context::run() returns once they have returned. Safe from any thread; idempotent.
  /// The io_context must outlive this object.
  void stop();

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace apono::broker::http
