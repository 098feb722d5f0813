// libedit's readline compatibility layer in callback mode (rl_callback_handler_install and
// rl_callback_read_char after poll() says the terminal has input), and plain reads for pipes.
#include "launchers/shell/line_input.hpp"

#include <poll.h>
#include <unistd.h>

#include <editline/readline.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/secrets.hpp"

namespace apono::launchers::shell {

namespace {

// libedit's line callback has no user pointer; one shell runs at a time, so statics suffice.
bool g_line_done = false;
std::optional<std::string> g_line;

void on_line(char* line) {
  g_line_done = true;
  if (line == nullptr) {
    g_line.reset();
    return;
  }
  g_line = line;
  std::free(line);
}

// One history entry per file line, with backslashes and newlines escaped.
std::string escape_entry(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string unescape_entry(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      ++i;
      out += s[i] == 'n' ? '\n' : s[i];
    } else {
      out += s[i];
    }
  }
  return out;
}

// psql keeps 500 entries by default (HISTSIZE).
constexpr std::size_t history_size = 500;

}  // namespace

input_status fd_line_reader::next(std::string& line) {
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return input_status::line;
    }
    if (eof_) {
      if (buffer_.empty()) return input_status::eof;
      line = std::move(buffer_);
      buffer_.clear();
      return input_status::line;
    }
    wake w = wait_.wait(fd_, POLLIN);
    if (w == wake::access_ended) return input_status::access_ended;
    if (w == wake::interrupted) return input_status::interrupted;
    char buf[8192];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      eof_ = true;
      continue;
    }
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
}

editline_input::editline_input(std::FILE* in, std::FILE* out, const waiter& wait,
                               std::filesystem::path history_file)
    : in_(in), out_(out), wait_(wait), history_file_(std::move(history_file)) {
  rl_readline_name = "apono";
  rl_instream = in_;
  rl_outstream = out_;
  // Ctrl-C is ours (it drops the line or cancels a query); libedit's own handler would
  // re-raise the signal to the whole process group.
  rl_catch_signals = 0;
  // There is no SQL completion; Tab types a tab (COPY rows are tab-separated), not file names.
  rl_inhibit_completion = 1;
  rl_initialize();
  using_history();
  if (!history_file_.empty()) {
    std::ifstream file(history_file_);
    std::string entry;
    while (std::getline(file, entry)) history_.push_back(unescape_entry(entry));
    if (history_.size() > history_size)
      history_.erase(history_.begin(), history_.end() - static_cast<std::ptrdiff_t>(history_size));
    for (const auto& e : history_) ::add_history(e.c_str());
  }
}

editline_input::~editline_input() {
  rl_callback_handler_remove();
  if (history_file_.empty()) return;
  try {
    common::ensure_private_dir(history_file_.parent_path());
    std::string content;
    for (const auto& e : history_) content += escape_entry(e) + "\n";
    common::write_private_file(history_file_, content);
  } catch (...) {
    // History is a convenience: an unwritable state directory must not fail the session.
  }
}

input_status editline_input::read(const std::string& first_prompt, std::string& line,
                                  const std::function<std::string()>& refresh) {
  std::string prompt = first_prompt;
  g_line_done = false;
  g_line.reset();
  rl_callback_handler_install(prompt.c_str(), on_line);
  bool server_open = static_cast<bool>(read_server_);
  for (;;) {
    const int side = server_open ? server_fd_() : -1;
    wake w = wait_.wait(fileno(in_), POLLIN, -1, side);
    if (w == wake::side_ready) {
      // A FATAL that cuts the session comes after the grant's end, which wins: the shell
      // prints the end itself.
      if (wait_.access_ended()) continue;
      // Erase the prompt's row, let the notice print on it, then draw the prompt and what was
      // typed below, cursor where it was (libedit keeps the line in its buffer).
      std::fputs("\r\033[K", out_);
      std::fflush(out_);
      server_open = read_server_();
      if (refresh) {
        prompt = refresh();
        rl_set_prompt(prompt.c_str());
      }
      rl_forced_update_display();
      continue;
    }
    if (w == wake::access_ended || w == wake::interrupted) {
      rl_callback_handler_remove();
      std::fputc('\n', out_);
      std::fflush(out_);
      return w == wake::access_ended ? input_status::access_ended : input_status::interrupted;
    }
    rl_callback_read_char();
    if (g_line_done) {
      rl_callback_handler_remove();
      if (!g_line) {
        // libedit shows the Ctrl-D as "^D"; redraw the prompt over it so that the caller's
        // "\q" lands where psql's does.
        std::fputc('\r', out_);
        std::fputs(prompt.c_str(), out_);
        std::fflush(out_);
        return input_status::eof;
      }
      line = std::move(*g_line);
      g_line.reset();
      return input_status::line;
    }
  }
}

void editline_input::watch_server(std::function<int()> fd_of_server,
                                  std::function<bool()> read_server) {
  server_fd_ = std::move(fd_of_server);
  read_server_ = std::move(read_server);
}

void editline_input::add_history(const std::string& entry) {
  if (entry.empty() || (!history_.empty() && history_.back() == entry)) return;
  history_.push_back(entry);
  if (history_.size() > history_size) history_.erase(history_.begin());
  ::add_history(entry.c_str());
}

std::filesystem::path default_history_file() {
  const char* state = std::getenv("XDG_STATE_HOME");
  if (state != nullptr && *state == '/')
    return std::filesystem::path(state) / "apono" / "shell_history";
  const char* home = std::getenv("HOME");
  if (home != nullptr && *home != '\0')
    return std::filesystem::path(home) / ".local" / "state" / "apono" / "shell_history";
  return {};
}

}  // namespace apono::launchers::shell
