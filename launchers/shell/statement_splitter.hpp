// Splits input lines into SQL statements and backslash commands the way psql's lexer
// (psqlscan.l) does: a `;` ends a statement only outside quotes, dollar quotes, comments,
// parentheses and BEGIN ATOMIC bodies, and the text kept is the text psql would send.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace apono::launchers::shell {

/// Where the unfinished buffer stands; it picks psql's continuation prompt (%R).
enum class continuation {
  none,          ///< nothing buffered: `=`
  text,          ///< a statement without its `;` yet: `-`
  single_quote,  ///< inside '...', E'...', B'...', X'...': `'`
  double_quote,  ///< inside "...": `"`
  dollar_quote,  ///< inside $tag$...$tag$: `$`
  comment,       ///< inside /* ... */: `*`
  paren,         ///< inside unclosed parentheses: `(`
};

/// The prompt character psql shows for `c` (`=` when nothing is buffered).
[[nodiscard]] char prompt_char(continuation c);

/// One thing found in the input, in input order.
struct split_event {
  enum class kind {
    statement,     ///< a complete statement, ending in its `;`
    meta_command,  ///< a backslash command: the rest of the line after the backslash
  };
  kind type = kind::statement;
  std::string text;
};

/// psql's lexer state carried from line to line.
class statement_splitter {
 public:
  /// `standard_strings`: the server's standard_conforming_strings (off: '...' takes \ escapes).
  explicit statement_splitter(bool standard_strings = true) : standard_strings_(standard_strings) {}

  /// Scans one line (without its newline); returns the statements it completed and the
  /// backslash command that ends it, if any. A backslash command takes the rest of the line.
  [[nodiscard]] std::vector<split_event> feed(std::string_view line);

  /// The unfinished statement; psql drops leading whitespace and `--` comments.
  [[nodiscard]] const std::string& buffer() const { return buffer_; }
  /// Takes the unfinished statement out (\g, or the end of a file) and resets the state.
  [[nodiscard]] std::string take();
  /// Drops the unfinished statement (\r, Ctrl-C).
  void clear();
  /// Where the buffer stands.
  [[nodiscard]] continuation state() const;
  /// Follows a change of standard_conforming_strings.
  void set_standard_strings(bool on) { standard_strings_ = on; }

 private:
  enum class mode { normal, quote, escape_quote, double_quote, dollar, comment };

  void end_statement(std::vector<split_event>& events);
  void on_identifier(std::string_view word);

  bool standard_strings_;
  std::string buffer_;
  mode mode_ = mode::normal;
  std::string dollar_tag_;  // the whole delimiter, "$tag$"
  int comment_depth_ = 0;
  int paren_depth_ = 0;
  int begin_depth_ = 0;
  int identifier_count_ = 0;
  char identifiers_[4] = {0, 0, 0, 0};
};

}  // namespace apono::launchers::shell
