// \l, \dt, \d, \d NAME and \du: psql 15's catalog queries (describe.c) and the tables it builds
// from them, so titles, columns and footers read exactly as in psql.
#pragma once

#include <optional>
#include <string>

#include "launchers/shell/connection.hpp"
#include "launchers/shell/printer.hpp"

namespace apono::launchers::shell {

/// What the describe commands need from the shell.
class catalog_client {
 public:
  virtual ~catalog_client() = default;
  /// Runs a catalog query; null after the error has been reported (psql's PSQLexec).
  [[nodiscard]] virtual pg_result query(const std::string& sql) = 0;
  /// Prints a table; `expandable` false keeps it aligned under \x (as \d NAME does).
  virtual void print(const table& t, bool expandable) = 0;
  /// Reports an error the way psql's pg_log_error does.
  virtual void error(const std::string& message) = 0;
  /// PQserverVersion, e.g. 150004.
  [[nodiscard]] virtual int server_version() const = 0;
  /// The database connected to (PQdb).
  [[nodiscard]] virtual std::string database() const = 0;
  /// The server's standard_conforming_strings.
  [[nodiscard]] virtual bool standard_strings() const = 0;
};

/// A query result as a table: column names, psql's alignment by type, NULL as empty.
[[nodiscard]] table to_table(const PGresult* result, std::string title = {});

/// \l [PATTERN]. Each returns false when psql's command would fail.
bool list_databases(catalog_client& c, const std::optional<std::string>& pattern);
/// \dt [PATTERN] (`kinds` "t") and \d without a name ("tvmsE"); `system` for the S suffix.
bool list_tables(catalog_client& c, const std::string& kinds,
                 const std::optional<std::string>& pattern, bool system);
/// \d PATTERN: one table per matching relation (S changes nothing once a name is given).
bool describe_relations(catalog_client& c, const std::string& pattern);
/// \du [PATTERN].
bool describe_roles(catalog_client& c, const std::optional<std::string>& pattern, bool system);

}  // namespace apono::launchers::shell
