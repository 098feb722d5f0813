// Output formats shared by every listing: aligned tables for people, JSON and YAML for
// scripts. JSON is pretty-printed with keys in the broker's order, so it is stable.
#pragma once

#include <boost/json/value.hpp>

#include <initializer_list>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "common/shell.hpp"

namespace apono::cli {

/// How a result is printed.
enum class format { table, json, yaml };

/// Parses -o; throws usage_error naming the allowed values.
[[nodiscard]] format parse_format(const std::string& s);

/// Rows and headers for the table format.
struct table {
  std::vector<std::string> headers;            ///< column titles (upper case by convention)
  std::vector<std::vector<std::string>> rows;  ///< one vector per row, one cell per header
};

/// Pretty JSON with two-space indentation and a final newline; `[]` for an empty array.
void print_json(std::ostream& out, const boost::json::value& v);
/// YAML for the same value (`[]` for an empty list).
void print_yaml(std::ostream& out, const boost::json::value& v);
/// Columns padded to their widest cell, two spaces apart; a header line first.
void print_table(std::ostream& out, const table& t);
/// Prints `data` as JSON or YAML, or `t` as a table; tables of no rows say `No <what> found.`
void print_result(std::ostream& out, format f, const boost::json::value& data, const table& t,
                  std::string_view what);

/// The string of a JSON field, "" when absent or null; numbers and booleans as text.
[[nodiscard]] std::string text(const boost::json::value& v, std::string_view key);
/// Joins a JSON array of strings with `sep`.
[[nodiscard]] std::string join(const boost::json::value& array, std::string_view sep = ", ");
/// Quotes `s` for a POSIX shell only when it needs it (the broker's Slack app quotes alike).
using common::shell_quote;

}  // namespace apono::cli
