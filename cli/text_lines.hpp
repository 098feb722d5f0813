// Config text as lines that keep their own line endings, so that editors can copy every line
// they do not change byte for byte and write new lines in the file's own style.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace apono::cli {

/// One line of a text, viewing into it.
struct text_line {
  std::size_t begin = 0;  ///< offset of the line's first byte in the text
  std::string_view body;  ///< the line without its ending
  std::string_view eol;   ///< "\n", "\r\n", or "" for a last line without one
};

/// Splits `text` at "\n"; a "\r" before it belongs to the ending. A final empty line is not one.
[[nodiscard]] std::vector<text_line> split_lines(std::string_view text);
/// The ending for new lines: "\r\n" when the first line ends so, else "\n".
[[nodiscard]] std::string_view line_ending(const std::vector<text_line>& lines);
/// True when `text` has a "\r" that is not followed by "\n" (old Mac line endings).
[[nodiscard]] bool has_bare_cr(std::string_view text);
/// Offset where line `i` starts; the text's size for `i == lines.size()`.
[[nodiscard]] std::size_t line_offset(const std::vector<text_line>& lines, std::size_t i,
                                      std::size_t text_size);

}  // namespace apono::cli
