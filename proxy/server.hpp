// The local PostgreSQL proxy for one grant: a unix socket in a private directory and, on
// request, a loopback TCP port guarded by a one-time password; one I/O thread; deadline
// notices and the cut when access ends.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "proxy/grant_watch.hpp"
#include "proxy/session.hpp"
#include "proxy/upstream.hpp"

namespace apono::proxy {

/// How to run a proxy.
struct proxy_options {
  upstream_endpoint upstream;      ///< the server and the grant's logins
  std::filesystem::path unix_dir;  ///< directory for the socket (must be ours, 0700); empty: none
  int socket_port = 5432;          ///< names the socket `.s.PGSQL.<port>` as psql expects
  std::optional<int> tcp_port;     ///< listen on 127.0.0.1:N (0: any free port); none: no TCP
  std::string tcp_password;        ///< the one-time password TCP clients must give
  /// PEM certificate (leaf first, then its CA) and key for TLS on the TCP listener; empty:
  /// TCP clients asking for TLS are answered 'N'. The unix socket never speaks TLS.
  std::string tls_cert_pem;
  std::string tls_key_pem;  ///< PEM private key of tls_cert_pem's leaf
  /// Warnings go out when this much is left (each once; skipped when already past).
  std::vector<std::chrono::milliseconds> warnings{std::chrono::minutes{5}, std::chrono::minutes{1}};
  std::function<void(const std::string&)> log;  ///< notable events; may be empty
};

/// A running proxy. Binds in start(); stop() (or the destructor) closes every connection.
class proxy_server {
 public:
  /// Prepares a proxy for the grant `watch` describes; does not listen yet.
  proxy_server(proxy_options options, grant_watch& watch);
  ~proxy_server();
  proxy_server(const proxy_server&) = delete;
  proxy_server& operator=(const proxy_server&) = delete;

  /// Binds the listeners and starts the I/O thread; throws std::runtime_error with a plain
  /// message when a listener cannot be set up (port taken, directory not private).
  void start();
  /// Closes the listeners and every connection and joins the thread; idempotent.
  void stop();
  /// The bound TCP port (after start), 0 without TCP.
  [[nodiscard]] int tcp_port() const;
  /// The unix socket's path, empty without one.
  [[nodiscard]] std::filesystem::path socket_path() const;
  /// Live counters.
  [[nodiscard]] const proxy_counters& counters() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Checks that `dir` exists, is a directory owned by us and has no group or other bits
/// (creating it 0700 when missing); throws std::runtime_error saying what is wrong.
void ensure_socket_dir(const std::filesystem::path& dir);

}  // namespace apono::proxy
