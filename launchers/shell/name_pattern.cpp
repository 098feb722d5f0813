// patternToSQLRegex and processSQLNamePattern from psql's fe_utils/string_utils.c.
#include "launchers/shell/name_pattern.hpp"

#include <cctype>
#include <cstring>
#include <vector>

namespace apono::launchers::shell {

name_regex parse_name_pattern(std::string_view pattern, int max_parts) {
  std::vector<std::string> parts{"^("};
  // The first part as written (case-folded), for comparing a database name.
  std::string first_literal;
  int dots = 0;
  bool in_quotes = false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char ch = pattern[i];
    std::string& cur = parts.back();
    const bool first = dots == 0;
    if (ch == '"') {
      if (in_quotes && i + 1 < pattern.size() && pattern[i + 1] == '"') {
        cur += '"';
        if (first) first_literal += '"';
        ++i;
      } else {
        in_quotes = !in_quotes;
      }
    } else if (!in_quotes && std::isupper(static_cast<unsigned char>(ch)) != 0) {
      cur += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (first) first_literal += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    } else if (!in_quotes && ch == '*') {
      cur += ".*";
      if (first) first_literal += ch;
    } else if (!in_quotes && ch == '?') {
      cur += '.';
      if (first) first_literal += ch;
    } else if (!in_quotes && ch == '.') {
      ++dots;
      if (static_cast<int>(parts.size()) < max_parts) {
        cur += ")$";
        parts.emplace_back("^(");
      } else {
        cur += ch;
      }
    } else if (ch == '$') {
      // Legal in identifiers, and the pattern is anchored anyway: always literal.
      cur += "\\$";
      if (first) first_literal += ch;
    } else {
      if (first) first_literal += ch;
      // Regex characters pass through outside quotes (users may write regexes), except "[]",
      // which is far more likely an array type name.
      if (in_quotes && std::strchr("|*+?()[]{}.^$\\", ch) != nullptr)
        cur += '\\';
      else if (ch == '[' && i + 1 < pattern.size() && pattern[i + 1] == ']')
        cur += '\\';
      cur += ch;
    }
  }
  parts.back() += ")$";

  name_regex out;
  out.too_many_dots = dots >= max_parts;
  out.name = parts.back();
  if (parts.size() > 1) out.schema = parts[parts.size() - 2];
  if (parts.size() > 2) out.database = first_literal;
  return out;
}

std::string sql_literal(std::string_view s, bool standard_strings) {
  const bool escape = !standard_strings && s.find('\\') != std::string_view::npos;
  std::string out = escape ? "E'" : "'";
  for (char c : s) {
    if (c == '\'' || (escape && c == '\\')) out += c;
    out += c;
  }
  out += '\'';
  return out;
}

void append_name_conditions(std::string& sql, bool have_where, const name_regex& pattern,
                            std::string_view schema_column, std::string_view name_column,
                            std::string_view visibility, bool standard_strings) {
  auto where_and = [&] {
    sql += have_where ? "  AND " : "WHERE ";
    have_where = true;
  };
  if (pattern.name != "^(.*)$") {
    where_and();
    sql += std::string(name_column) + " OPERATOR(pg_catalog.~) " +
           sql_literal(pattern.name, standard_strings) + " COLLATE pg_catalog.default\n";
  }
  if (pattern.schema && !schema_column.empty()) {
    if (*pattern.schema != "^(.*)$") {
      where_and();
      sql += std::string(schema_column) + " OPERATOR(pg_catalog.~) " +
             sql_literal(*pattern.schema, standard_strings) + " COLLATE pg_catalog.default\n";
    }
  } else if (!visibility.empty()) {
    where_and();
    sql += std::string(visibility) + "\n";
  }
}

}  // namespace apono::launchers::shell
