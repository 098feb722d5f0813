// What `access connect` and `access proxy` share: fetch the access details once, pick the
// database, make a private run directory, and start the proxy, the deadline and the revoke
// watch for the grant.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "cli/context.hpp"
#include "common/model.hpp"
#include "common/time.hpp"
#include "proxy/grant_watch.hpp"
#include "proxy/revoke_watch.hpp"
#include "proxy/server.hpp"

namespace apono::cli {

/// What to start.
struct local_access_options {
  std::string id;                  ///< request id
  std::string database;            ///< --db; empty: the grant's first database
  std::filesystem::path unix_dir;  ///< socket directory; empty: a fresh private run directory
  std::optional<int> tcp_port;     ///< also listen on 127.0.0.1 (0: any free port)
  std::function<void(const std::string&)> log;  ///< proxy events; may be empty
  /// Details fetched already (by `access connect`, to choose the client); none: fetch them.
  std::optional<common::access_details> details{};
};

/// A running local proxy for one grant; everything stops and the run directory goes away
/// when it is destroyed.
class local_access {
 public:
  /// Fetches the details and starts; throws with a one-line message when the request is not
  /// ACTIVE, holds no PostgreSQL database, or `--db` names one it does not cover.
  local_access(const global_options& g, const local_access_options& o);
  ~local_access();
  local_access(const local_access&) = delete;
  local_access& operator=(const local_access&) = delete;

  /// The details as fetched.
  [[nodiscard]] const common::access_details& details() const { return details_; }
  /// The unit whose database is opened.
  [[nodiscard]] const common::unit_credentials& unit() const { return unit_; }
  /// The grant's watch.
  [[nodiscard]] proxy::grant_watch& watch() { return *watch_; }
  /// The proxy.
  [[nodiscard]] proxy::proxy_server& proxy() { return *proxy_; }
  /// The socket directory.
  [[nodiscard]] const std::filesystem::path& socket_dir() const { return socket_dir_; }
  /// The one-time password for TCP clients.
  [[nodiscard]] const std::string& tcp_password() const { return tcp_password_; }
  /// The local CA certificate that signs the TCP listener's TLS (sslrootcert); empty
  /// without TCP.
  [[nodiscard]] const std::filesystem::path& tls_root() const { return tls_root_; }

 private:
  common::access_details details_;
  common::unit_credentials unit_;
  common::system_clock clock_;
  std::unique_ptr<proxy::grant_watch> watch_;
  std::unique_ptr<proxy::proxy_server> proxy_;
  std::unique_ptr<proxy::revoke_watch> revoke_;
  std::filesystem::path socket_dir_;
  bool own_dir_ = false;
  std::string tcp_password_;
  std::filesystem::path tls_root_;
};

/// `v` quoted for a libpq key=value connection string: in single quotes, \ and ' escaped.
[[nodiscard]] std::string conninfo_value(const std::string& v);

/// A private directory for this run's sockets: $XDG_RUNTIME_DIR/apono/<id>.XXXXXX, or
/// /tmp/apono-<id>.XXXXXX; 0700.
[[nodiscard]] std::filesystem::path make_run_dir(const std::string& id);

}  // namespace apono::cli
