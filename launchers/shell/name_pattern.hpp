// psql's name patterns for \d, \dt, \l and \du (processSQLNamePattern in fe_utils/string_utils.c):
// `*` and `?` wildcards, case folding outside double quotes, `schema.name`, anchored regexes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace apono::launchers::shell {

/// A pattern turned into anchored POSIX regexes, e.g. `public.t*` -> ^(public)$ and ^(t.*)$.
struct name_regex {
  std::optional<std::string> database;  ///< the literal database name of a 3-part pattern
  std::optional<std::string> schema;    ///< set when the pattern names a schema
  std::string name;                     ///< regex for the object name
  bool too_many_dots = false;           ///< more parts than the command takes
};

/// Parses `pattern`; `max_parts` is 3 for schema-qualified objects (database.schema.name), 1 for
/// databases and roles.
[[nodiscard]] name_regex parse_name_pattern(std::string_view pattern, int max_parts = 2);

/// An SQL string literal of `s`, as psql's appendStringLiteralConn writes it: E'...' with
/// doubled backslashes when the server has standard_conforming_strings off.
[[nodiscard]] std::string sql_literal(std::string_view s, bool standard_strings = true);

/// Appends psql's WHERE/AND conditions for `pattern` to `sql` (`have_where`: a WHERE is
/// already there). `schema_column` may be empty; `visibility` (e.g. pg_table_is_visible) is
/// added when no schema is named.
void append_name_conditions(std::string& sql, bool have_where, const name_regex& pattern,
                            std::string_view schema_column, std::string_view name_column,
                            std::string_view visibility, bool standard_strings = true);

}  // namespace apono::launchers::shell
