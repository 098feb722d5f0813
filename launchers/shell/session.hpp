// One shell session on a connection: psql's MainLoop body (lines in, statements and backslash
// commands out), SendQuery with psql's result printing, and the backslash commands.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

#include "launchers/shell/connection.hpp"
#include "launchers/shell/describe.hpp"
#include "launchers/shell/diagnostics.hpp"
#include "launchers/shell/line_input.hpp"
#include "launchers/shell/printer.hpp"
#include "launchers/shell/statement_splitter.hpp"

namespace apono::launchers::shell {

/// Thrown to leave the shell from any depth (\q inside \i, access end, lost connection); it
/// carries run_shell's exit status and is caught only there.
struct shell_exit {
  int status;
};

/// Where COPY FROM STDIN reads its rows: the input the statements come from, as psql reads the
/// lines that follow the COPY statement in the same file, pipe or terminal.
struct input_source {
  std::function<input_status(std::string&)> next;  ///< the next line, without its newline
  bool terminal = false;  ///< a person types the rows: explain how to end them
};

/// The state psql keeps in `pset` for one connection, and the loop steps that use it.
class session final : public catalog_client {
 public:
  /// `interactive`: lines come from a terminal (prompts, "Try \? for help.").
  session(connection& conn, const waiter& wait, diagnostics& diag, std::FILE* out,
          bool interactive);

  /// One input line from `splitter`'s source: runs what it completes (MainLoop's body).
  void feed(statement_splitter& splitter, std::string_view line);
  /// End of a non-interactive source: psql sends an unfinished statement anyway.
  void finish(statement_splitter& splitter);
  /// Sends one query string and prints its results (SendQuery); true when all succeeded.
  bool send_query(const std::string& sql);
  /// Runs a file's lines with `apono:FILE:LINE:` on its messages (-f, \i); false if unreadable.
  bool run_file(const std::string& path);
  /// Makes `source` the input COPY FROM STDIN reads until the returned value is destroyed.
  [[nodiscard]] auto use_source(const input_source& source) {
    struct restore {
      session& s;
      const input_source* previous;
      ~restore() { s.source_ = previous; }
    };
    restore r{*this, source_};
    source_ = &source;
    return r;
  }
  /// A new splitter for this server's string syntax.
  [[nodiscard]] statement_splitter make_splitter() const;

  /// psql's default prompt `%/%R%x%# ` for `splitter`'s state, with the time left when short.
  [[nodiscard]] std::string prompt(const statement_splitter& splitter) const;
  /// True once a backslash command failed (-c with a backslash command exits 1 then).
  [[nodiscard]] bool meta_failed() const { return meta_failed_; }
  /// Prints the end-of-access message and throws shell_exit{exit_access_ended}.
  [[noreturn]] void access_ended();

  // catalog_client
  [[nodiscard]] pg_result query(const std::string& sql) override;
  void print(const table& t, bool expandable) override;
  void error(const std::string& message) override;
  [[nodiscard]] int server_version() const override;
  [[nodiscard]] std::string database() const override;
  [[nodiscard]] bool standard_strings() const override;

 private:
  void run_meta(statement_splitter& splitter, const std::string& text);
  bool dispatch_meta(statement_splitter& splitter, const std::string& cmd,
                     std::vector<std::string>& args);
  bool next_result(pg_result& r);
  void print_result(const PGresult* r);
  void report_error(const PGresult* r);
  void check_connection();
  void copy_out();
  void copy_in();
  void print_timing(double ms);
  void print_help();
  void conninfo();
  [[nodiscard]] print_options output_options(bool expandable) const;

  connection& conn_;
  const waiter& wait_;
  diagnostics& diag_;
  std::FILE* out_;
  bool interactive_;
  expanded_mode expanded_ = expanded_mode::off;
  bool timing_ = false;
  bool meta_failed_ = false;
  std::string previous_query_;
  std::vector<std::string> file_stack_;
  const input_source* source_ = nullptr;
};

}  // namespace apono::launchers::shell
