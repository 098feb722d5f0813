// psql's aligned and expanded table output, byte for byte, as pure functions of a table: the
// shell's query results and \d listings both go through here, so they look exactly like psql's.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace apono::launchers::shell {

/// libpq's id for UTF-8 (PG_UTF8 in pg_wchar.h, stable since PostgreSQL 8).
inline constexpr int utf8_encoding = 6;

/// How a column's values line up under its centred header.
enum class alignment {
  left,
  right,  ///< numbers, as psql's column_type_alignment decides
};

/// A table to print: what psql's printTableContent holds.
struct table {
  std::string title;                 ///< centred above the table; empty for none
  std::vector<std::string> headers;  ///< column names
  std::vector<alignment> aligns;     ///< one per column
  /// Cell values; nullopt (SQL NULL) prints empty, as psql's default null display.
  std::vector<std::vector<std::optional<std::string>>> rows;
  std::vector<std::string> footers;  ///< lines below the table (\d's "Indexes:" ...)
  bool default_footer = true;        ///< "(N rows)" when there are no footers
};

/// psql's \x setting.
enum class expanded_mode {
  off,
  on,
  automatic,  ///< expanded only when the aligned table is wider than the terminal
};

/// Output settings.
struct print_options {
  expanded_mode expanded = expanded_mode::off;
  int columns = 0;               ///< terminal width for expanded auto; 0 when not a terminal
  int encoding = utf8_encoding;  ///< libpq encoding id of the text (PQclientEncoding)
};

/// The table as psql -X prints it in aligned format (border 1, ascii line style), including
/// the footer and the blank line after it.
[[nodiscard]] std::string format_table(const table& t, const print_options& options);

/// psql's column_type_alignment: right for the numeric types, left for everything else.
[[nodiscard]] alignment column_alignment(unsigned type_oid);

/// Display width of `text` (the widest of its lines), as psql measures it.
[[nodiscard]] int display_width(std::string_view text, int encoding = utf8_encoding);

}  // namespace apono::launchers::shell
