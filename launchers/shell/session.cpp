// psql 15's MainLoop step, SendQuery/ExecQueryAndProcessResults (every result of a query
// string is shown), PrintQueryResult, PrintTiming and the backslash commands the shell offers.
#include "launchers/shell/session.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

#include "launchers/shell/shell.hpp"

namespace apono::launchers::shell {

namespace {

using namespace std::chrono_literals;

// How long a dropped connection may wait for the grant watch to say access ended: the proxy
// ends the watch before it cuts the session, so this only matters for a lost race.
constexpr auto end_grace = 500ms;

bool starts_with_word(std::string_view line, std::string_view word) {
  if (line.size() < word.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != word[i]) return false;
  std::string_view rest = line.substr(word.size());
  if (!rest.empty() && rest.front() == ';') rest.remove_prefix(1);
  for (char c : rest)
    if (std::isspace(static_cast<unsigned char>(c)) == 0) return false;
  return true;
}

// psql's ParseVariableBool: prefixes of true/false/yes/no, on/off (two letters at least), 1/0.
std::optional<bool> parse_bool(std::string_view v) {
  std::string s;
  for (char c : v) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto prefix_of = [&](std::string_view word, std::size_t min) {
    return s.size() >= min && s.size() <= word.size() && word.substr(0, s.size()) == s;
  };
  if (prefix_of("true", 1) || prefix_of("yes", 1) || prefix_of("on", 2) || s == "1") return true;
  if (prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || s == "0") return false;
  return std::nullopt;
}

// Backslash-command arguments as psql's OT_NORMAL reads them: whitespace separates, '...' is
// unquoted (with '' and \ escapes), "..." is kept with its quotes for name patterns.
std::vector<std::string> split_args(std::string_view text) {
  std::vector<std::string> args;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) != 0) ++i;
    if (i >= text.size()) break;
    std::string arg;
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) == 0) {
      const char c = text[i];
      if (c == '\'') {
        ++i;
        while (i < text.size()) {
          if (text[i] == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
            arg += '\'';
            i += 2;
          } else if (text[i] == '\'') {
            ++i;
            break;
          } else if (text[i] == '\\' && i + 1 < text.size()) {
            const char e = text[i + 1];
            arg += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
            i += 2;
          } else {
            arg += text[i++];
          }
        }
      } else if (c == '"') {
        arg += c;
        ++i;
        while (i < text.size()) {
          arg += text[i];
          if (text[i++] == '"') {
            if (i < text.size() && text[i] == '"') {
              arg += text[i++];
              continue;
            }
            break;
          }
        }
      } else {
        arg += c;
        ++i;
      }
    }
    args.push_back(std::move(arg));
  }
  return args;
}

const char* on_off(bool on) {
  return on ? "on" : "off";
}

}  // namespace

session::session(connection& conn, const waiter& wait, diagnostics& diag, std::FILE* out,
                 bool interactive)
    : conn_(conn), wait_(wait), diag_(diag), out_(out), interactive_(interactive) {
  // Notices (and the proxy's end-of-access warnings) print like errors: psql's NoticeProcessor.
  PQsetNoticeProcessor(
      conn_.get(),
      [](void* arg, const char* message) { static_cast<diagnostics*>(arg)->info(message); },
      &diag_);
}

statement_splitter session::make_splitter() const {
  return statement_splitter(standard_strings());
}

void session::feed(statement_splitter& splitter, std::string_view line) {
  // psql recognises these words alone on the first line of an interactive statement.
  if (interactive_ && splitter.buffer().empty()) {
    if (starts_with_word(line, "help")) {
      std::fputs(
          "You are using apono's shell, a psql-style interface to PostgreSQL.\n"
          "Type:  \\? for help with shell commands\n"
          "       \\g or terminate with semicolon to execute query\n"
          "       \\q to quit\n",
          out_);
      std::fflush(out_);
      return;
    }
    if (starts_with_word(line, "quit") || starts_with_word(line, "exit")) throw shell_exit{0};
  }
  splitter.set_standard_strings(standard_strings());
  for (auto& event : splitter.feed(line)) {
    if (event.type == split_event::kind::statement)
      (void)send_query(event.text);
    else
      run_meta(splitter, event.text);
  }
}

void session::finish(statement_splitter& splitter) {
  if (!splitter.buffer().empty()) (void)send_query(splitter.take());
}

bool session::send_query(const std::string& sql) {
  previous_query_ = sql;
  const auto start = std::chrono::steady_clock::now();
  bool ok = true;
  if (!conn_.send(sql)) {
    if (conn_.lost() && wait_.access_ended(end_grace)) access_ended();
    if (*PQerrorMessage(conn_.get()) != '\0') diag_.info(PQerrorMessage(conn_.get()));
    check_connection();
    return false;
  }
  bool copied_out = false;
  for (;;) {
    pg_result r;
    if (!next_result(r)) break;
    switch (PQresultStatus(r.get())) {
      case PGRES_TUPLES_OK:
      case PGRES_COMMAND_OK:
        // psql keeps COPY's tag out of the data it just wrote to the same output.
        if (!copied_out) print_result(r.get());
        copied_out = false;
        break;
      case PGRES_EMPTY_QUERY:
        break;
      case PGRES_COPY_OUT:
        copy_out();
        copied_out = true;
        break;
      case PGRES_COPY_IN:
        copy_in();
        break;
      default:
        report_error(r.get());
        ok = false;
        break;
    }
  }
  check_connection();
  const std::chrono::duration<double, std::milli> elapsed =
      std::chrono::steady_clock::now() - start;
  if (timing_) print_timing(elapsed.count());
  // A script stopped with Ctrl-C ends, as psql's does.
  if (conn_.interrupted() && !interactive_) throw shell_exit{1};
  return ok;
}

void session::print_result(const PGresult* r) {
  if (PQresultStatus(r) == PGRES_TUPLES_OK) {
    print(to_table(r), true);
    // INSERT/UPDATE/DELETE ... RETURNING show their rows and then their tag.
    const std::string_view tag = PQcmdStatus(const_cast<PGresult*>(r));
    if (!(tag.starts_with("INSERT") || tag.starts_with("UPDATE") || tag.starts_with("DELETE")))
      return;
  }
  std::fprintf(out_, "%s\n", PQcmdStatus(const_cast<PGresult*>(r)));
  std::fflush(out_);
}

// False at the end of the results, or when the connection dropped (check_connection follows).
bool session::next_result(pg_result& r) {
  switch (conn_.next_result(r)) {
    case outcome::access_ended:
      access_ended();
    case outcome::lost:
      if (wait_.access_ended(end_grace)) access_ended();
      if (const std::string m = conn_.lost_message(); !m.empty()) diag_.info(m);
      return false;
    default:
      return r != nullptr;
  }
}

void session::report_error(const PGresult* r) {
  const char* severity = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
  const bool fatal = severity != nullptr && std::strcmp(severity, "FATAL") == 0;
  // The proxy cuts a session whose grant ended with a FATAL error: say it once, our way.
  if ((fatal || conn_.lost()) && wait_.access_ended(end_grace)) access_ended();
  if (*PQresultErrorMessage(r) != '\0') diag_.info(PQresultErrorMessage(r));
}

void session::check_connection() {
  if (!conn_.lost()) return;
  if (wait_.access_ended(end_grace)) access_ended();
  diag_.error("connection to server was lost");
  throw shell_exit{2};
}

void session::copy_out() {
  for (;;) {
    char* buf = nullptr;
    const int n = PQgetCopyData(conn_.get(), &buf, 1);
    if (n > 0) {
      std::fwrite(buf, 1, static_cast<std::size_t>(n), out_);
      PQfreemem(buf);
    } else if (n == 0) {
      if (conn_.read_input() == outcome::access_ended) access_ended();
    } else {
      break;  // done or failed: the final result tells which
    }
  }
  std::fflush(out_);
}

void session::copy_in() {
  bool canceled = false;
  if (source_ != nullptr) {
    if (source_->terminal)
      std::fputs(
          "Enter data to be copied followed by a newline.\n"
          "End with a backslash and a period on a line by itself, or an EOF signal.\n",
          out_);
    std::fflush(out_);
    for (;;) {
      std::string line;
      const input_status status = source_->next(line);
      if (status == input_status::access_ended) access_ended();
      if (status == input_status::interrupted) canceled = true;
      if (status != input_status::line || line == "\\." || line == "\\.\r") break;
      line += '\n';
      if (PQputCopyData(conn_.get(), line.data(), static_cast<int>(line.size())) != 1) break;
    }
  }
  (void)PQputCopyEnd(conn_.get(), canceled ? "canceled by user" : nullptr);
}

void session::print_timing(double ms) {
  if (ms < 1000.0) {
    std::fprintf(out_, "Time: %.3f ms\n", ms);
  } else {
    double seconds = ms / 1000.0;
    double minutes = std::floor(seconds / 60.0);
    seconds -= 60.0 * minutes;
    if (minutes < 60.0) {
      std::fprintf(out_, "Time: %.3f ms (%02d:%06.3f)\n", ms, static_cast<int>(minutes), seconds);
    } else {
      double hours = std::floor(minutes / 60.0);
      minutes -= 60.0 * hours;
      if (hours < 24.0) {
        std::fprintf(out_, "Time: %.3f ms (%02d:%02d:%06.3f)\n", ms, static_cast<int>(hours),
                     static_cast<int>(minutes), seconds);
      } else {
        double days = std::floor(hours / 24.0);
        hours -= 24.0 * days;
        std::fprintf(out_, "Time: %.3f ms (%.0f d %02d:%02d:%06.3f)\n", ms, days,
                     static_cast<int>(hours), static_cast<int>(minutes), seconds);
      }
    }
  }
  std::fflush(out_);
}

bool session::run_file(const std::string& path) {
  std::filesystem::path resolved = path;
  std::ifstream file(resolved);
  if (!file) {
    diag_.error(path + ": " + std::strerror(errno));
    return false;
  }
  diag_.push_file(path);
  file_stack_.push_back(path);
  struct leave {
    session& s;
    ~leave() {
      s.diag_.pop_file();
      s.file_stack_.pop_back();
    }
  } guard{*this};
  long number = 0;
  const input_source source{[&](std::string& l) {
    if (!std::getline(file, l)) return input_status::eof;
    diag_.set_line(++number);
    return input_status::line;
  }};
  auto scope = use_source(source);
  statement_splitter splitter = make_splitter();
  std::string line;
  while (source.next(line) == input_status::line) feed(splitter, line);
  finish(splitter);
  return true;
}

void session::run_meta(statement_splitter& splitter, const std::string& text) {
  std::size_t end = 0;
  while (end < text.size() && std::isspace(static_cast<unsigned char>(text[end])) == 0 &&
         text[end] != '\\')
    ++end;
  const std::string cmd = text.substr(0, end);
  std::vector<std::string> args = split_args(std::string_view(text).substr(end));
  if (!dispatch_meta(splitter, cmd, args)) meta_failed_ = true;
}

bool session::dispatch_meta(statement_splitter& splitter, const std::string& cmd,
                            std::vector<std::string>& args) {
  std::size_t used = 0;
  auto arg = [&]() -> std::optional<std::string> {
    if (used < args.size()) return args[used++];
    return std::nullopt;
  };
  bool ok = true;
  bool known = true;

  if (cmd == "q" || cmd == "quit") {
    throw shell_exit{0};
  } else if (cmd == "?") {
    print_help();
  } else if (cmd == "conninfo") {
    conninfo();
  } else if (cmd == "l" || cmd == "list") {
    ok = list_databases(*this, arg());
  } else if (cmd == "x") {
    if (auto v = arg()) {
      std::string lower;
      for (char c : *v) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == "auto") {
        expanded_ = expanded_mode::automatic;
      } else if (auto b = parse_bool(*v)) {
        expanded_ = *b ? expanded_mode::on : expanded_mode::off;
      } else {
        diag_.error("unrecognized value \"" + *v +
                    "\" for \"expanded\"\nAvailable values are: on, off, auto.");
        ok = false;
      }
    } else {
      expanded_ = expanded_ == expanded_mode::off ? expanded_mode::on : expanded_mode::off;
    }
    if (ok)
      std::fputs(expanded_ == expanded_mode::on ? "Expanded display is on.\n"
                 : expanded_ == expanded_mode::automatic
                     ? "Expanded display is used automatically.\n"
                     : "Expanded display is off.\n",
                 out_);
  } else if (cmd == "timing") {
    if (auto v = arg()) {
      if (auto b = parse_bool(*v)) {
        timing_ = *b;
      } else {
        diag_.error("unrecognized value \"" + *v + "\" for \"\\timing\": Boolean expected");
        ok = false;
      }
    } else {
      timing_ = !timing_;
    }
    std::fputs(timing_ ? "Timing is on.\n" : "Timing is off.\n", out_);
  } else if (cmd == "i" || cmd == "include" || cmd == "ir" || cmd == "include_relative") {
    auto file = arg();
    if (!file) {
      diag_.error("\\" + cmd + ": missing required argument");
      ok = false;
    } else {
      std::string path = *file;
      const bool relative = cmd == "ir" || cmd == "include_relative";
      if (relative && !file_stack_.empty() && !std::filesystem::path(path).is_absolute())
        path = (std::filesystem::path(file_stack_.back()).parent_path() / path).string();
      ok = run_file(path);
    }
  } else if (cmd == "g") {
    std::string sql = splitter.buffer().empty() ? previous_query_ : splitter.take();
    if (!sql.empty()) ok = send_query(sql);
  } else if (cmd == "r" || cmd == "reset") {
    splitter.clear();
    std::fputs("Query buffer reset (cleared).\n", out_);
  } else if (cmd.size() >= 1 && cmd[0] == 'd') {
    // \d[S], \d[tivmsE...][S] and \du/\dg[S]; no verbose (+) forms.
    std::string rest = cmd.substr(1);
    bool system = false;
    if (!rest.empty() && rest.back() == 'S') {
      system = true;
      rest.pop_back();
    }
    if (rest.empty()) {
      if (auto pattern = arg())
        ok = describe_relations(*this, *pattern);
      else
        ok = list_tables(*this, "tvmsE", std::nullopt, system);
    } else if (rest == "u" || rest == "g") {
      ok = describe_roles(*this, arg(), system);
    } else if (rest.find_first_not_of("tivmsE") == std::string::npos) {
      ok = list_tables(*this, rest, arg(), system);
    } else {
      known = false;
    }
  } else {
    known = false;
  }

  if (!known) {
    diag_.error("invalid command \\" + cmd);
    if (interactive_) diag_.info("Try \\? for help.");
    return false;
  }
  std::fflush(out_);
  for (; used < args.size(); ++used)
    diag_.warning("\\" + cmd + ": extra argument \"" + args[used] + "\" ignored");
  return ok;
}

void session::print_help() {
  std::fprintf(
      out_,
      "General\n"
      "  \\q                     quit the shell\n"
      "  \\?                     show this help\n"
      "\n"
      "Query Buffer\n"
      "  \\g                     execute the query buffer (or the last query)\n"
      "  \\r                     reset (clear) the query buffer\n"
      "\n"
      "Input/Output\n"
      "  \\i FILE                execute commands from file\n"
      "  \\ir FILE               as \\i, but relative to location of current script\n"
      "\n"
      "Informational\n"
      "  (options: S = show system objects)\n"
      "  \\d[S]                  list tables, views, and sequences\n"
      "  \\d[S]  NAME            describe table, view, sequence, or index\n"
      "  \\dE[S] [PATTERN]       list foreign tables\n"
      "  \\di[S] [PATTERN]       list indexes\n"
      "  \\dm[S] [PATTERN]       list materialized views\n"
      "  \\ds[S] [PATTERN]       list sequences\n"
      "  \\dt[S] [PATTERN]       list tables\n"
      "  \\du[S] [PATTERN]       list roles\n"
      "  \\dv[S] [PATTERN]       list views\n"
      "  \\l [PATTERN]           list databases\n"
      "\n"
      "Formatting\n"
      "  \\x [on|off|auto]       toggle expanded output (currently %s)\n"
      "\n"
      "Connection\n"
      "  \\conninfo              display information about current connection\n"
      "\n"
      "Operating System\n"
      "  \\timing [on|off]       toggle timing of commands (currently %s)\n"
      "\n",
      expanded_ == expanded_mode::automatic ? "auto" : on_off(expanded_ == expanded_mode::on),
      on_off(timing_));
}

void session::conninfo() {
  PGconn* c = conn_.get();
  const char* db = PQdb(c);
  if (db == nullptr) {
    std::fputs("You are currently not connected to a database.\n", out_);
    return;
  }
  const std::string host = PQhost(c) != nullptr ? PQhost(c) : "";
  const std::string addr = PQhostaddr(c) != nullptr ? PQhostaddr(c) : "";
  const char* user = PQuser(c);
  const char* port = PQport(c);
  if (!host.empty() && (host[0] == '/' || host[0] == '@')) {
    if (!addr.empty())
      std::fprintf(out_,
                   "You are connected to database \"%s\" as user \"%s\" on address \"%s\" at "
                   "port \"%s\".\n",
                   db, user, addr.c_str(), port);
    else
      std::fprintf(out_,
                   "You are connected to database \"%s\" as user \"%s\" via socket in \"%s\" at "
                   "port \"%s\".\n",
                   db, user, host.c_str(), port);
  } else if (!addr.empty() && host != addr) {
    std::fprintf(out_,
                 "You are connected to database \"%s\" as user \"%s\" on host \"%s\" (address "
                 "\"%s\") at port \"%s\".\n",
                 db, user, host.c_str(), addr.c_str(), port);
  } else {
    std::fprintf(out_,
                 "You are connected to database \"%s\" as user \"%s\" on host \"%s\" at port "
                 "\"%s\".\n",
                 db, user, host.c_str(), port);
  }
  if (PQsslInUse(c) != 0) {
    const char* protocol = PQsslAttribute(c, "protocol");
    const char* cipher = PQsslAttribute(c, "cipher");
    const char* compression = PQsslAttribute(c, "compression");
    std::fprintf(out_, "SSL connection (protocol: %s, cipher: %s, compression: %s)\n",
                 protocol != nullptr ? protocol : "unknown", cipher != nullptr ? cipher : "unknown",
                 compression != nullptr && std::strcmp(compression, "off") != 0 ? "on" : "off");
  }
  if (PQgssEncInUse(c) != 0) std::fputs("GSSAPI-encrypted connection\n", out_);
}

std::string session::prompt(const statement_splitter& splitter) const {
  std::string p;
  if (proxy::grant_watch* w = wait_.watch(); w != nullptr) {
    const auto left = w->time_left();
    if (left < std::chrono::minutes{5}) p = "[" + proxy::format_time_left(left) + " left] ";
  }
  PGconn* c = conn_.get();
  p += PQdb(c);
  p += prompt_char(splitter.state());
  switch (PQtransactionStatus(c)) {
    case PQTRANS_INTRANS:
      p += '*';
      break;
    case PQTRANS_INERROR:
      p += '!';
      break;
    case PQTRANS_UNKNOWN:
      p += '?';
      break;
    default:
      break;
  }
  const char* super = PQparameterStatus(c, "is_superuser");
  p += super != nullptr && std::strcmp(super, "on") == 0 ? "# " : "> ";
  return p;
}

void session::access_ended() {
  proxy::grant_watch* w = wait_.watch();
  diag_.plain("FATAL:  " + (w != nullptr ? w->message() : std::string("access ended")));
  throw shell_exit{exit_access_ended};
}

pg_result session::query(const std::string& sql) {
  if (!conn_.send(sql)) {
    if (conn_.lost() && wait_.access_ended(end_grace)) access_ended();
    if (*PQerrorMessage(conn_.get()) != '\0') diag_.info(PQerrorMessage(conn_.get()));
    check_connection();
    return nullptr;
  }
  pg_result last;
  bool ok = true;
  for (;;) {
    pg_result r;
    if (!next_result(r)) break;
    const ExecStatusType status = PQresultStatus(r.get());
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      report_error(r.get());
      ok = false;
    }
    last = std::move(r);
  }
  check_connection();
  return ok ? std::move(last) : nullptr;
}

void session::print(const table& t, bool expandable) {
  const std::string text = format_table(t, output_options(expandable));
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
}

void session::error(const std::string& message) {
  diag_.error(message);
}

int session::server_version() const {
  return PQserverVersion(conn_.get());
}

std::string session::database() const {
  const char* db = PQdb(conn_.get());
  return db != nullptr ? db : "";
}

bool session::standard_strings() const {
  const char* v = PQparameterStatus(conn_.get(), "standard_conforming_strings");
  return v == nullptr || std::strcmp(v, "off") != 0;
}

print_options session::output_options(bool expandable) const {
  print_options o;
  o.expanded = expandable ? expanded_ : expanded_mode::off;
  o.encoding = PQclientEncoding(conn_.get());
  // psql measures the terminal only when printing to one.
  if (o.expanded == expanded_mode::automatic && isatty(fileno(out_)) != 0) {
    const char* env = std::getenv("COLUMNS");
    if (env != nullptr && std::atoi(env) > 0) {
      o.columns = std::atoi(env);
    } else {
      winsize ws{};
      if (ioctl(fileno(out_), TIOCGWINSZ, &ws) != -1) o.columns = ws.ws_col;
    }
  }
  return o;
}

}  // namespace apono::launchers::shell
