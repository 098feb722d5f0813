// psql's lexer rules that decide where a statement ends and what text is sent; tokens that do
// not change either (numbers, operators, casts) pass through unexamined.
#include "launchers/shell/statement_splitter.hpp"

#include <cctype>

namespace apono::launchers::shell {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' || c == '\n';
}

// ident_start and ident_cont from scan.l: letters, underscore and any byte >= 0x80.
bool ident_start(char c) {
  auto u = static_cast<unsigned char>(c);
  return std::isalpha(u) != 0 || c == '_' || u >= 0x80;
}

bool ident_cont(char c) {
  return ident_start(c) || std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '$';
}

bool dollar_tag_char(char c, bool first) {
  auto u = static_cast<unsigned char>(c);
  return std::isalpha(u) != 0 || c == '_' || u >= 0x80 || (!first && std::isdigit(u) != 0);
}

// The $tag$ delimiter starting at `i`, or 0 when `$` does not open a dollar quote there.
std::size_t dollar_delimiter(std::string_view line, std::size_t i) {
  std::size_t j = i + 1;
  while (j < line.size() && dollar_tag_char(line[j], j == i + 1)) ++j;
  if (j < line.size() && line[j] == '$') return j + 1 - i;
  return 0;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

char prompt_char(continuation c) {
  switch (c) {
    case continuation::none:
      return '=';
    case continuation::text:
      return '-';
    case continuation::single_quote:
      return '\'';
    case continuation::double_quote:
      return '"';
    case continuation::dollar_quote:
      return '$';
    case continuation::comment:
      return '*';
    case continuation::paren:
      return '(';
  }
  return '=';
}

std::vector<split_event> statement_splitter::feed(std::string_view line) {
  std::vector<split_event> events;
  // psql joins the lines of a statement with newlines; leading blank lines are not kept.
  std::size_t added_newline = std::string::npos;
  if (!buffer_.empty()) {
    buffer_ += '\n';
    added_newline = buffer_.size();
  }

  std::size_t i = 0;
  const std::size_t n = line.size();
  auto next = [&](std::size_t k) { return i + k < n ? line[i + k] : '\0'; };
  while (i < n) {
    const char c = line[i];
    switch (mode_) {
      case mode::quote:
      case mode::escape_quote:
        if (mode_ == mode::escape_quote && c == '\\' && i + 1 < n) {
          buffer_.append(line.substr(i, 2));
          i += 2;
        } else if (c == '\'' && next(1) == '\'') {
          buffer_ += "''";
          i += 2;
        } else {
          buffer_ += c;
          ++i;
          if (c == '\'') mode_ = mode::normal;
        }
        continue;
      case mode::double_quote:
        if (c == '"' && next(1) == '"') {
          buffer_ += "\"\"";
          i += 2;
        } else {
          buffer_ += c;
          ++i;
          if (c == '"') mode_ = mode::normal;
        }
        continue;
      case mode::dollar:
        if (c == '$' && line.substr(i, dollar_tag_.size()) == dollar_tag_) {
          buffer_ += dollar_tag_;
          i += dollar_tag_.size();
          mode_ = mode::normal;
        } else {
          buffer_ += c;
          ++i;
        }
        continue;
      case mode::comment:
        if (c == '/' && next(1) == '*') {
          ++comment_depth_;
          buffer_ += "/*";
          i += 2;
        } else if (c == '*' && next(1) == '/') {
          buffer_ += "*/";
          i += 2;
          if (--comment_depth_ == 0) mode_ = mode::normal;
        } else {
          buffer_ += c;
          ++i;
        }
        continue;
      case mode::normal:
        break;
    }

    if (is_space(c)) {
      if (!buffer_.empty()) buffer_ += c;
      ++i;
    } else if (c == '-' && next(1) == '-') {
      // A -- comment is whitespace to psql: dropped before a statement, kept inside one.
      if (!buffer_.empty()) buffer_.append(line.substr(i));
      i = n;
    } else if (c == '/' && next(1) == '*') {
      mode_ = mode::comment;
      comment_depth_ = 1;
      buffer_ += "/*";
      i += 2;
    } else if (c == '\'') {
      mode_ = standard_strings_ ? mode::quote : mode::escape_quote;
      buffer_ += c;
      ++i;
    } else if (c == '"') {
      mode_ = mode::double_quote;
      buffer_ += c;
      ++i;
    } else if (c == '$') {
      if (std::size_t len = dollar_delimiter(line, i); len > 0) {
        dollar_tag_ = std::string(line.substr(i, len));
        mode_ = mode::dollar;
        buffer_ += dollar_tag_;
        i += len;
      } else {
        // A parameter ($1) or a stray dollar.
        buffer_ += c;
        ++i;
        while (i < n && std::isdigit(static_cast<unsigned char>(line[i])) != 0)
          buffer_ += line[i++];
      }
    } else if (ident_start(c)) {
      std::size_t j = i;
      while (j < n && ident_cont(line[j])) ++j;
      const std::string_view word = line.substr(i, j - i);
      const char after = j < n ? line[j] : '\0';
      const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (word.size() == 1 && after == '\'' &&
          (lower == 'e' || lower == 'b' || lower == 'x' || lower == 'n')) {
        // E'...' takes backslash escapes; B'...', X'...' and N'...' are plain quotes.
        mode_ =
            lower == 'e' || (lower == 'n' && !standard_strings_) ? mode::escape_quote : mode::quote;
        buffer_.append(line.substr(i, 2));
        i = j + 1;
      } else if (word.size() == 1 && lower == 'u' && after == '&' && j + 1 < n &&
                 (line[j + 1] == '\'' || line[j + 1] == '"')) {
        mode_ = line[j + 1] == '\'' ? mode::quote : mode::double_quote;
        buffer_.append(line.substr(i, 3));
        i = j + 2;
      } else {
        on_identifier(word);
        buffer_.append(word);
        i = j;
      }
    } else if (std::isdigit(static_cast<unsigned char>(c)) != 0) {
      // A number, so that 1e5 or 0x1F are not read as identifiers.
      std::size_t j = i;
      while (j < n && (std::isalnum(static_cast<unsigned char>(line[j])) != 0 || line[j] == '_' ||
                       line[j] == '.'))
        ++j;
      buffer_.append(line.substr(i, j - i));
      i = j;
    } else if (c == '(') {
      ++paren_depth_;
      buffer_ += c;
      ++i;
    } else if (c == ')') {
      if (paren_depth_ > 0) --paren_depth_;
      buffer_ += c;
      ++i;
    } else if (c == ';') {
      buffer_ += c;
      ++i;
      if (paren_depth_ == 0 && begin_depth_ == 0) end_statement(events);
    } else if (c == '\\') {
      // \; and \: put the character in the statement; any other backslash starts a command.
      if (next(1) == ';' || next(1) == ':') {
        buffer_ += next(1);
        if (next(1) == ';') identifier_count_ = 0;
        i += 2;
      } else {
        // A line holding only a backslash command leaves the statement as it was.
        if (buffer_.size() == added_newline) buffer_.pop_back();
        events.push_back({split_event::kind::meta_command, std::string(line.substr(i + 1))});
        i = n;
      }
    } else {
      buffer_ += c;
      ++i;
    }
  }
  return events;
}

void statement_splitter::end_statement(std::vector<split_event>& events) {
  events.push_back({split_event::kind::statement, std::move(buffer_)});
  buffer_.clear();
  identifier_count_ = 0;
}

// psql's heuristic for CREATE [OR REPLACE] FUNCTION|PROCEDURE ... BEGIN ATOMIC ... END, whose
// body holds semicolons that do not end the statement.
void statement_splitter::on_identifier(std::string_view word) {
  if (identifier_count_ == 0)
    for (char& id : identifiers_) id = 0;
  if (iequals(word, "create") || iequals(word, "function") || iequals(word, "procedure") ||
      iequals(word, "or") || iequals(word, "replace")) {
    if (identifier_count_ < 4)
      identifiers_[identifier_count_] =
          static_cast<char>(std::tolower(static_cast<unsigned char>(word[0])));
  }
  ++identifier_count_;
  const char* ids = identifiers_;
  const bool routine =
      ids[0] == 'c' && (ids[1] == 'f' || ids[1] == 'p' ||
                        (ids[1] == 'o' && ids[2] == 'r' && (ids[3] == 'f' || ids[3] == 'p')));
  if (!routine || paren_depth_ != 0) return;
  if (iequals(word, "begin")) {
    ++begin_depth_;
  } else if (iequals(word, "case")) {
    if (begin_depth_ >= 1) ++begin_depth_;
  } else if (iequals(word, "end")) {
    if (begin_depth_ > 0) --begin_depth_;
  }
}

std::string statement_splitter::take() {
  std::string out = std::move(buffer_);
  clear();
  return out;
}

void statement_splitter::clear() {
  buffer_.clear();
  mode_ = mode::normal;
  dollar_tag_.clear();
  comment_depth_ = 0;
  paren_depth_ = 0;
  begin_depth_ = 0;
  identifier_count_ = 0;
}

continuation statement_splitter::state() const {
  switch (mode_) {
    case mode::quote:
    case mode::escape_quote:
      return continuation::single_quote;
    case mode::double_quote:
      return continuation::double_quote;
    case mode::dollar:
      return continuation::dollar_quote;
    case mode::comment:
      return continuation::comment;
    case mode::normal:
      break;
  }
  if (paren_depth_ > 0) return continuation::paren;
  if (begin_depth_ > 0 || !buffer_.empty()) return continuation::text;
  return continuation::none;
}

}  // namespace apono::launchers::shell
