// `apono access connect ID --client psql`: the user's own psql, with their ~/.psqlrc and
// habits, pointed at the local proxy's socket, and stopped when access ends.
#pragma once

#include <string>

#include "proxy/grant_watch.hpp"

namespace apono::launchers {

/// How to start psql.
struct psql_options {
  std::string psql = "psql";  ///< program name or path (looked up in PATH)
  std::string socket_dir;     ///< the proxy's socket directory
  int socket_port = 5432;     ///< the socket's port number
  std::string database;       ///< database to open
  std::string user;           ///< login name (the proxy logs in upstream with the real one)
  std::string command;        ///< -c SQL (empty: none)
  std::string file;           ///< -f FILE (empty: none)
  proxy::grant_watch* watch = nullptr;  ///< the grant; psql is stopped when it ends
};

/// Runs psql and waits for it. Returns psql's exit status, or 3 when access ended (psql is
/// stopped if it does not exit by itself, the terminal is restored and the watch's message
/// printed on stderr). Throws std::runtime_error when psql cannot be started.
[[nodiscard]] int run_psql(const psql_options& options);

}  // namespace apono::launchers
