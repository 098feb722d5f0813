// The built-in psql-style shell on libpq: `apono access connect ID` with no psql needed.
#pragma once

#include <cstdio>
#include <string>

#include "proxy/grant_watch.hpp"

namespace apono::launchers {

/// Exit status when access ended while the shell ran.
inline constexpr int exit_access_ended = 3;

/// How to run the shell.
struct shell_options {
  std::string conninfo;  ///< libpq connection string (the local proxy's socket, or any server)
  std::string command;   ///< -c: run this and exit (empty: none)
  std::string file;      ///< -f: run this file and exit (empty: none)
  /// The grant being used; null when there is none (tests against a plain server).
  proxy::grant_watch* watch = nullptr;
  std::FILE* in = stdin;    ///< where statements come from when neither -c nor -f
  std::FILE* out = stdout;  ///< results
  std::FILE* err = stderr;  ///< errors, notices and the end-of-access message
};

/// Runs the shell; returns the exit status: 0 done, 1 a statement failed under -c/-f
/// (psql's ON_ERROR_STOP off: the rest still runs, status 1 only for -c), 2 could not
/// connect, exit_access_ended when the grant ended (the message printed on `err`).
[[nodiscard]] int run_shell(const shell_options& options);

}  // namespace apono::launchers
