// The proxy's side towards the real PostgreSQL server: where it is, the short-lived logins
// per database, and a connection that is plain TCP or TLS as the integration's sslmode says.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace apono::proxy {

namespace net = boost::asio;

/// One database of the grant and the login that opens it.
struct upstream_login {
  std::string database;  ///< database name
  std::string username;  ///< short-lived role
  std::string password;  ///< its password
};

/// The server the grant is for.
struct upstream_endpoint {
  std::string host;                    ///< name or address
  int port = 5432;                     ///< TCP port
  std::string sslmode = "prefer";      ///< libpq sslmode semantics
  std::string ssl_root_cert;           ///< PEM CA for verify-ca / verify-full
  std::vector<upstream_login> logins;  ///< the first is the default database
  /// The login for `database`, or null when the grant does not cover it.
  [[nodiscard]] const upstream_login* find(const std::string& database) const;
  /// The granted database names, comma-separated, for messages.
  [[nodiscard]] std::string database_list() const;
};

/// Builds the TLS client context for `ep` (verification per its sslmode and CA); throws
/// std::runtime_error when the CA cannot be loaded.
[[nodiscard]] std::shared_ptr<net::ssl::context> make_upstream_tls(const upstream_endpoint& ep);

/// A connection to the server, TLS or not; reads and writes report errors as values.
class upstream_stream {
 public:
  /// An unconnected stream on `ex` using `tls` when the handshake is made.
  upstream_stream(const net::any_io_executor& ex, net::ssl::context& tls);
  /// Connects to `ep`, negotiates TLS per its sslmode, within `timeout`. On failure returns
  /// the error and sets `why` to one plain line ("connection refused", "the server does
  /// not support SSL, but sslmode is require", "certificate verify failed: ...").
  net::awaitable<boost::system::error_code> connect(const upstream_endpoint& ep,
                                                    std::chrono::milliseconds timeout,
                                                    std::string& why);
  /// Reads what is available into `b`.
  net::awaitable<std::tuple<boost::system::error_code, std::size_t>> read_some(
      net::mutable_buffer b);
  /// Writes all of `b`.
  net::awaitable<std::tuple<boost::system::error_code, std::size_t>> write(net::const_buffer b);
  /// Closes the socket (any pending operation ends with an error).
  void close();
  /// True when TLS is in use.
  [[nodiscard]] bool tls() const { return tls_; }
  /// The TCP socket (I/O on it directly is for streams without TLS).
  net::ip::tcp::socket& socket() { return stream_.next_layer(); }
  /// The TLS stream (for streams with TLS).
  net::ssl::stream<net::ip::tcp::socket>& tls_stream() { return stream_; }
  /// True while the socket is open.
  [[nodiscard]] bool is_open() const { return stream_.next_layer().is_open(); }

 private:
  net::ssl::stream<net::ip::tcp::socket> stream_;
  bool tls_ = false;
};

}  // namespace apono::proxy
