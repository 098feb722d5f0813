// run_shell: sets up Ctrl-C, the locale and the connection, then runs -c, -f, the interactive
// prompt or statements from a pipe, and turns every way out into an exit status.
#include "launchers/shell/shell.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <clocale>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <sstream>

#include "launchers/shell/connection.hpp"
#include "launchers/shell/diagnostics.hpp"
#include "launchers/shell/line_input.hpp"
#include "launchers/shell/session.hpp"
#include "launchers/shell/waiter.hpp"

namespace apono::launchers {

namespace {

using shell::input_status;

int g_interrupt_write_fd = -1;

void on_sigint(int) {
  const int saved = errno;
  if (g_interrupt_write_fd >= 0) {
    char c = 'c';
    [[maybe_unused]] auto n = ::write(g_interrupt_write_fd, &c, 1);
  }
  errno = saved;
}

// Ctrl-C becomes a byte on a pipe that every wait polls, so it can cancel a query (psql sends
// PQcancel) or drop the line being typed; the previous handler comes back at the end.
class interrupt_pipe {
 public:
  interrupt_pipe() {
    if (::pipe2(fds_, O_CLOEXEC | O_NONBLOCK) != 0) {
      fds_[0] = fds_[1] = -1;
      return;
    }
    g_interrupt_write_fd = fds_[1];
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    installed_ = ::sigaction(SIGINT, &sa, &previous_) == 0;
  }
  ~interrupt_pipe() {
    if (installed_) ::sigaction(SIGINT, &previous_, nullptr);
    g_interrupt_write_fd = -1;
    for (int fd : fds_)
      if (fd >= 0) ::close(fd);
  }
  interrupt_pipe(const interrupt_pipe&) = delete;
  interrupt_pipe& operator=(const interrupt_pipe&) = delete;
  [[nodiscard]] int read_fd() const { return fds_[0]; }

 private:
  int fds_[2] = {-1, -1};
  struct sigaction previous_ {};
  bool installed_ = false;
};

// libedit needs a multibyte LC_CTYPE to edit UTF-8 text; a program that never called
// setlocale still has "C", so take the user's locale, or C.UTF-8, for the session.
class ctype_locale {
 public:
  ctype_locale() {
    const char* current = std::setlocale(LC_CTYPE, nullptr);
    previous_ = current != nullptr ? current : "C";
    if (previous_ != "C" && previous_ != "POSIX") return;
    const char* user = std::setlocale(LC_CTYPE, "");
    if (user == nullptr || std::strcmp(user, "C") == 0 || std::strcmp(user, "POSIX") == 0)
      std::setlocale(LC_CTYPE, "C.UTF-8");
    changed_ = true;
  }
  ~ctype_locale() {
    if (changed_) std::setlocale(LC_CTYPE, previous_.c_str());
  }
  ctype_locale(const ctype_locale&) = delete;
  ctype_locale& operator=(const ctype_locale&) = delete;

 private:
  std::string previous_;
  bool changed_ = false;
};

std::string server_version_text(int v) {
  if (v >= 100000) return std::to_string(v / 10000) + "." + std::to_string(v % 10000);
  return std::to_string(v / 10000) + "." + std::to_string((v / 100) % 100) + "." +
         std::to_string(v % 100);
}

bool blank(const std::string& s) {
  return s.find_first_not_of(" \t\r\n") == std::string::npos;
}

int run_interactive(shell::session& s, const shell_options& options, const shell::waiter& wait,
                    shell::connection& server) {
  PGconn* conn = server.get();
  std::fprintf(options.out, "apono shell (server %s)\n",
               server_version_text(PQserverVersion(conn)).c_str());
  if (options.watch != nullptr)
    std::fprintf(options.out, "Access %s ends in %s.\n", options.watch->request_id().c_str(),
                 proxy::format_time_left(options.watch->time_left()).c_str());
  std::fputs("Type \"help\" for help.\n\n", options.out);
  std::fflush(options.out);

  shell::editline_input input(options.in, options.out, wait, shell::default_history_file());
  // psql reads the server only when a query runs, so the proxy's warnings before the end (5
  // and 1 minutes) would wait for the next query; a user idle at the prompt must see them.
  // Only while no query runs: COPY FROM STDIN prompts too, and its rows own the connection.
  input.watch_server(
      [conn] { return PQtransactionStatus(conn) == PQTRANS_ACTIVE ? -1 : PQsocket(conn); },
      [&server] { return server.read_idle(); });
  const shell::input_source copy_rows{[&](std::string& l) { return input.read(">> ", l); }, true};
  auto scope = s.use_source(copy_rows);
  shell::statement_splitter splitter = s.make_splitter();
  std::string entry;  // the lines of the current statement, one history entry
  for (;;) {
    std::string line;
    switch (input.read(s.prompt(splitter), line, [&] { return s.prompt(splitter); })) {
      case input_status::eof:
        std::fputs("\\q\n", options.out);
        return 0;
      case input_status::access_ended:
        s.access_ended();
      case input_status::interrupted:
        splitter.clear();
        entry.clear();
        continue;
      case input_status::line:
        break;
    }
    if (!entry.empty()) entry += '\n';
    entry += line;
    try {
      s.feed(splitter, line);
    } catch (const shell::shell_exit&) {
      if (!blank(entry)) input.add_history(entry);
      throw;
    }
    if (splitter.buffer().empty()) {
      if (!blank(entry)) input.add_history(entry);
      entry.clear();
    }
  }
}

int run_piped(shell::session& s, shell::fd_line_reader& reader) {
  shell::statement_splitter splitter = s.make_splitter();
  for (;;) {
    std::string line;
    switch (reader.next(line)) {
      case input_status::line:
        s.feed(splitter, line);
        break;
      case input_status::eof:
        s.finish(splitter);
        return 0;
      case input_status::access_ended:
        s.access_ended();
      case input_status::interrupted:
        return 1;
    }
  }
}

int run(const shell_options& options) {
  ctype_locale locale;
  interrupt_pipe interrupts;
  const bool use_stdin = options.command.empty() && (options.file.empty() || options.file == "-");
  const bool interactive = use_stdin && options.file.empty() && isatty(fileno(options.in)) != 0 &&
                           isatty(fileno(options.out)) != 0;
  shell::waiter wait(options.watch, interrupts.read_fd());
  shell::connection conn(wait);
  // psql lets libpq pick the encoding from the locale only when a person is typing.
  const char* encoding =
      interactive && std::getenv("PGCLIENTENCODING") == nullptr ? "auto" : nullptr;
  switch (conn.connect(options.conninfo, encoding)) {
    case shell::outcome::ok:
      break;
    case shell::outcome::access_ended:
      std::fprintf(options.err, "FATAL:  %s\n", options.watch->message().c_str());
      return exit_access_ended;
    case shell::outcome::failed:
    case shell::outcome::lost:
      std::fprintf(options.err, "apono: error: %s\n", conn.error().c_str());
      return 2;
  }

  // psql's messages are terse except while a -f file runs, which names its file and line.
  shell::diagnostics diag(options.out, options.err, options.file.empty() || options.file == "-");
  shell::session s(conn, wait, diag, options.out, interactive);
  // Statements from a pipe, and COPY FROM STDIN rows under -c, come from `in`.
  shell::fd_line_reader reader(fileno(options.in), wait);
  const shell::input_source rows{[&](std::string& l) { return reader.next(l); }, false};
  auto scope = s.use_source(rows);
  try {
    if (!options.command.empty()) {
      if (options.command.front() != '\\') return s.send_query(options.command) ? 0 : 1;
      shell::statement_splitter splitter = s.make_splitter();
      std::istringstream lines(options.command);
      for (std::string line; std::getline(lines, line);) s.feed(splitter, line);
      return s.meta_failed() ? 1 : 0;
    }
    if (!options.file.empty() && options.file != "-") return s.run_file(options.file) ? 0 : 1;
    if (interactive) return run_interactive(s, options, wait, conn);
    return run_piped(s, reader);
  } catch (const shell::shell_exit& e) {
    std::fflush(options.out);
    return e.status;
  }
}

}  // namespace

int run_shell(const shell_options& options) {
  try {
    return run(options);
  } catch (const std::exception& e) {
    std::fprintf(options.err, "apono: error: %s\n", e.what());
  } catch (...) {
    std::fprintf(options.err, "apono: error: the shell failed unexpectedly\n");
  }
  return 2;
}

}  // namespace apono::launchers
