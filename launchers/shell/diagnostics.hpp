// Where the shell's messages go and how they are prefixed: psql's pg_log_* layout, with
// `apono:FILE:LINE: ` while a file runs (-f, \i) and bare messages at the prompt and under -c.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace apono::launchers::shell {

/// psql's logging: the locus and label rules of fe_utils' pg_log_generic.
class diagnostics {
 public:
  /// `terse`: messages carry no program prefix unless a file is running (psql sets this for
  /// the prompt, stdin and -c; -f is not terse).
  diagnostics(std::FILE* out, std::FILE* err, bool terse) : out_(out), err_(err), terse_(terse) {}

  /// A server message or notice, printed as is after the locus (pg_log_info).
  void info(std::string_view message);
  /// A shell error; "error: " follows the locus when there is one (pg_log_error).
  void error(std::string_view message);
  /// A shell warning, "warning: " likewise (pg_log_warning).
  void warning(std::string_view message);
  /// A line on err with no prefix at all (the end-of-access FATAL).
  void plain(std::string_view message);

  /// Enters file `name` (-f or \i); lines are counted from 1 with set_line.
  void push_file(std::string name);
  /// Leaves the innermost file.
  void pop_file();
  /// The line of the innermost file being run.
  void set_line(long line);

 private:
  struct locus {
    std::string file;
    long line = 0;
  };
  void emit(const char* label, std::string_view message);

  std::FILE* out_;
  std::FILE* err_;
  bool terse_;
  std::vector<locus> files_;
};

}  // namespace apono::launchers::shell
