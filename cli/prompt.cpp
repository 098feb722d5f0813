// Prompt widgets: the pure state machines first, then the terminal driver (raw mode held by
// an RAII guard that a signal handler can also undo, key reading, redraw on stderr).
#include "cli/prompt.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <system_error>
#include <utility>

namespace apono::cli {

namespace {

bool is_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// Removes the last UTF-8 character, so Backspace never leaves half a sequence behind.
void pop_utf8(std::string& s) {
  while (!s.empty()) {
    char c = s.back();
    s.pop_back();
    if (!is_continuation(c)) break;
  }
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return r;
}

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

// `? Title:`, without a colon after a title that is already a question.
std::string question(std::string_view title) {
  std::string q = "? " + std::string(title);
  if (q.back() != '?') q += ':';
  return q;
}

std::string join_answer(const std::vector<std::string>& options,
                        const std::vector<std::size_t>& picked) {
  std::string s;
  for (auto i : picked) s += (s.empty() ? "" : ", ") + options.at(i);
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Keys

std::vector<key> decode_keys(std::string_view bytes) {
  using kind = key::kind;
  std::vector<key> keys;
  std::size_t i = 0;
  const std::size_t n = bytes.size();
  while (i < n) {
    const char c = bytes[i];
    if (c == '\x1b') {
      if (i + 1 == n) {
        keys.push_back({kind::escape});
        ++i;
      } else if (bytes[i + 1] == '[') {
        // CSI: parameter and intermediate bytes, then one final byte.
        std::size_t j = i + 2;
        while (j < n && bytes[j] >= 0x20 && bytes[j] <= 0x3F) ++j;
        if (j == n) {
          keys.push_back({kind::other});
          break;
        }
        auto params = bytes.substr(i + 2, j - i - 2);
        kind k = kind::other;
        switch (bytes[j]) {
          case 'A':
            k = kind::up;
            break;
          case 'B':
            k = kind::down;
            break;
          case 'H':
            k = kind::home;
            break;
          case 'F':
            k = kind::end;
            break;
          case '~':
            if (params == "1" || params == "7") k = kind::home;
            if (params == "4" || params == "8") k = kind::end;
            break;
          default:
            break;
        }
        keys.push_back({k});
        i = j + 1;
      } else if (bytes[i + 1] == 'O') {
        // SS3: what arrows send in the terminal's application cursor mode.
        kind k = kind::other;
        if (i + 2 < n) {
          switch (bytes[i + 2]) {
            case 'A':
              k = kind::up;
              break;
            case 'B':
              k = kind::down;
              break;
            case 'H':
              k = kind::home;
              break;
            case 'F':
              k = kind::end;
              break;
            default:
              break;
          }
        }
        keys.push_back({k});
        i = std::min(n, i + 3);
      } else {
        // Esc typed just before another key: both count.
        keys.push_back({kind::escape});
        ++i;
      }
      continue;
    }
    ++i;
    switch (c) {
      case '\r':
        if (i < n && bytes[i] == '\n') ++i;  // CRLF is one Enter
        keys.push_back({kind::enter});
        break;
      case '\n':
        keys.push_back({kind::enter});
        break;
      case '\x7f':
      case '\x08':
        keys.push_back({kind::backspace});
        break;
      case '\x03':
        keys.push_back({kind::interrupt});
        break;
      case '\x04':
        keys.push_back({kind::eof});
        break;
      case '\x15':
        keys.push_back({kind::kill_line});
        break;
      case '\x0e':
        keys.push_back({kind::down});
        break;  // Ctrl-N
      case '\x10':
        keys.push_back({kind::up});
        break;  // Ctrl-P
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          keys.push_back({kind::other});
        else
          keys.push_back(key::character(c));
    }
  }
  return keys;
}

// ---------------------------------------------------------------------------------------------
// List prompt

list_prompt::list_prompt(std::vector<std::string> options, bool multi)
    : options_(std::move(options)), multi_(multi), selected_(options_.size(), false) {
  if (options_.empty()) throw std::invalid_argument("list_prompt needs at least one option");
  refilter();
}

std::size_t list_prompt::current() const {
  return visible_.empty() ? options_.size() : visible_[cursor_];
}

std::vector<std::size_t> list_prompt::answer() const {
  if (answered_automatically()) return {0};
  if (!multi_) return visible_.empty() ? std::vector<std::size_t>{} : std::vector{current()};
  std::vector<std::size_t> picked;
  for (std::size_t i = 0; i < options_.size(); ++i)
    if (selected_[i]) picked.push_back(i);
  return picked;
}

void list_prompt::refilter() {
  // The cursor stays on the same option while it still matches, so narrowing never jumps.
  const auto was = current();
  visible_.clear();
  const auto needle = lower(filter_);
  for (std::size_t i = 0; i < options_.size(); ++i)
    if (needle.empty() || lower(options_[i]).find(needle) != std::string::npos)
      visible_.push_back(i);
  auto it = std::find(visible_.begin(), visible_.end(), was);
  cursor_ = it == visible_.end() ? 0 : static_cast<std::size_t>(it - visible_.begin());
}

void list_prompt::move(int delta) {
  if (visible_.empty()) return;
  const auto n = static_cast<long>(visible_.size());
  cursor_ = static_cast<std::size_t>(((static_cast<long>(cursor_) + delta) % n + n) % n);
}

prompt_action list_prompt::on_key(const key& k) {
  using kind = key::kind;
  hint_.clear();
  switch (k.k) {
    case kind::interrupt:
    case kind::eof:
      return prompt_action::abort;
    case kind::up:
      move(-1);
      break;
    case kind::down:
      move(1);
      break;
    case kind::home:
      cursor_ = 0;
      break;
    case kind::end:
      cursor_ = visible_.empty() ? 0 : visible_.size() - 1;
      break;
    case kind::enter:
      if (multi_) {
        if (std::find(selected_.begin(), selected_.end(), true) != selected_.end())
          return prompt_action::submit;
        hint_ = "select at least one (space toggles)";
      } else {
        if (!visible_.empty()) return prompt_action::submit;
        hint_ = "nothing matches the filter (Esc clears it)";
      }
      break;
    case kind::escape:
      filtering_ = false;
      filter_.clear();
      refilter();
      break;
    case kind::backspace:
      if (!filtering_) break;
      if (filter_.empty())
        filtering_ = false;
      else
        pop_utf8(filter_);
      refilter();
      break;
    case kind::kill_line:
      if (!filtering_) break;
      filter_.clear();
      refilter();
      break;
    case kind::character:
      if (k.ch == ' ' && multi_) {
        if (!visible_.empty()) selected_[current()] = !selected_[current()];
      } else if (filtering_) {
        filter_ += k.ch;
        refilter();
      } else if (k.ch == '/') {
        filtering_ = true;
      } else if (k.ch == 'j') {
        move(1);
      } else if (k.ch == 'k') {
        move(-1);
      }
      break;
    case kind::other:
      break;
  }
  return prompt_action::redraw;
}

std::vector<std::string> render_list(std::string_view title, const list_prompt& p,
                                     std::size_t max_rows) {
  std::vector<std::string> lines;
  std::string head = question(title) + " ";
  if (p.filtering())
    head += "/" + p.filter();
  else if (p.multi())
    head += "[space to select, enter to submit, / to filter]";
  else
    head += "[enter to select, / to filter]";
  lines.push_back(std::move(head));

  const auto& vis = p.visible();
  if (vis.empty()) lines.push_back("  (no matches)");
  max_rows = std::max<std::size_t>(max_rows, 1);
  // A window around the cursor, as far down as it can go without running past the end.
  std::size_t first = 0;
  if (vis.size() > max_rows) {
    first = p.cursor() >= max_rows / 2 ? p.cursor() - max_rows / 2 : 0;
    first = std::min(first, vis.size() - max_rows);
  }
  const auto last = std::min(vis.size(), first + max_rows);
  for (std::size_t row = first; row < last; ++row) {
    std::string line = row == p.cursor() ? "> " : "  ";
    if (p.multi()) line += p.selected(vis[row]) ? "[x] " : "[ ] ";
    line += p.options()[vis[row]];
    lines.push_back(std::move(line));
  }
  if (last - first < vis.size())
    lines.push_back("  (" + std::to_string(p.cursor() + 1) + "/" + std::to_string(vis.size()) +
                    ")");
  if (!p.hint().empty()) lines.push_back("  ! " + p.hint());
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Text prompt

text_prompt::text_prompt(std::string default_value, text_validator validator)
    : default_(std::move(default_value)), validator_(std::move(validator)) {}

std::string text_prompt::answer() const {
  auto t = trim(typed_);
  return t.empty() ? default_ : t;
}

prompt_action text_prompt::on_key(const key& k) {
  using kind = key::kind;
  switch (k.k) {
    case kind::interrupt:
    case kind::eof:
      return prompt_action::abort;
    case kind::enter:
      error_ = validator_ ? validator_(answer()) : std::string();
      return error_.empty() ? prompt_action::submit : prompt_action::redraw;
    case kind::backspace:
      pop_utf8(typed_);
      error_.clear();
      break;
    case kind::kill_line:
      typed_.clear();
      error_.clear();
      break;
    case kind::character:
      typed_ += k.ch;
      error_.clear();
      break;
    default:
      break;
  }
  return prompt_action::redraw;
}

// ---------------------------------------------------------------------------------------------
// Terminal driver

namespace {

// What a signal handler needs to put the terminal back: a process can hold only one raw
// terminal at a time, so one global slot is enough.
int g_tty_fd = -1;
struct termios g_saved {};

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    auto n = ::write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stderr gone: nothing sensible left to do with the drawing
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

constexpr std::string_view show_cursor = "\x1b[?25h";
constexpr std::string_view hide_cursor = "\x1b[?25l";

// A fatal signal while in raw mode would leave the user's shell without echo: undo raw mode
// first (tcsetattr and write are async-signal-safe), then die of the same signal.
extern "C" void restore_and_reraise(int sig) {
  if (g_tty_fd >= 0) ::tcsetattr(g_tty_fd, TCSANOW, &g_saved);
  (void)!::write(2, show_cursor.data(), show_cursor.size());
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// Only interrupts read() so the prompt redraws at the new size.
extern "C" void on_winch(int) {}

constexpr int fatal_signals[] = {SIGTERM, SIGHUP, SIGINT, SIGQUIT};

// The terminal in raw mode for one prompt. Every way out (return, exception) restores the
// saved modes and shows the cursor again.
class raw_terminal {
 public:
  raw_terminal() {
    if (::isatty(0)) {
      fd_ = 0;
    } else {
      fd_ = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
      if (fd_ < 0) throw std::runtime_error("no terminal for the interactive prompt");
      owned_ = true;
    }
    if (::tcgetattr(fd_, &saved_) != 0) {
      auto e = errno;
      close_owned();
      throw std::system_error(e, std::generic_category(), "tcgetattr");
    }
    g_saved = saved_;
    g_tty_fd = fd_;
    struct sigaction sa {};
    sa.sa_handler = restore_and_reraise;
    sigemptyset(&sa.sa_mask);
    for (std::size_t i = 0; i < std::size(fatal_signals); ++i)
      ::sigaction(fatal_signals[i], &sa, &old_fatal_[i]);
    struct sigaction winch {};
    winch.sa_handler = on_winch;  // no SA_RESTART: read() returns EINTR and we redraw
    sigemptyset(&winch.sa_mask);
    ::sigaction(SIGWINCH, &winch, &old_winch_);

    auto raw = saved_;
    // ISIG off: Ctrl-C arrives as a key, so aborting goes through the same cleanup as Enter.
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ISIG | IEXTEN);
    raw.c_iflag &= ~static_cast<tcflag_t>(IXON | ICRNL);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    ::tcsetattr(fd_, TCSANOW, &raw);
  }

  ~raw_terminal() {
    ::tcsetattr(fd_, TCSADRAIN, &saved_);
    write_all(2, show_cursor);
    ::sigaction(SIGWINCH, &old_winch_, nullptr);
    for (std::size_t i = 0; i < std::size(fatal_signals); ++i)
      ::sigaction(fatal_signals[i], &old_fatal_[i], nullptr);
    g_tty_fd = -1;
    close_owned();
  }

  raw_terminal(const raw_terminal&) = delete;
  raw_terminal& operator=(const raw_terminal&) = delete;

  // The keys of one read; empty after a signal (time to redraw).
  std::vector<key> read_keys() {
    char buf[64];
    auto n = ::read(fd_, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) return {};
      throw std::system_error(errno, std::generic_category(), "reading the terminal");
    }
    if (n == 0) return {key{key::kind::eof}};
    std::string bytes(buf, static_cast<std::size_t>(n));
    // A sequence can be split across reads; its tail follows within milliseconds, while a
    // lone Esc has none.
    while (unfinished_escape(bytes)) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 30) <= 0) break;
      n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      bytes.append(buf, static_cast<std::size_t>(n));
    }
    return decode_keys(bytes);
  }

  // Columns and rows of the terminal, re-read each time so a resize takes effect at once.
  [[nodiscard]] std::pair<std::size_t, std::size_t> size() const {
    winsize ws{};
    if (::ioctl(2, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0)
      if (::ioctl(fd_, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0) return {80, 24};
    return {ws.ws_col, ws.ws_row ? ws.ws_row : 24};
  }

 private:
  static bool unfinished_escape(std::string_view b) {
    auto esc = b.rfind('\x1b');
    if (esc == std::string_view::npos) return false;
    auto tail = b.substr(esc + 1);
    if (tail.empty()) return true;
    if (tail == "O") return true;
    if (tail[0] != '[') return false;
    return std::all_of(tail.begin() + 1, tail.end(), [](char c) { return c >= 0x20 && c <= 0x3F; });
  }

  void close_owned() {
    if (owned_) ::close(fd_);
    owned_ = false;
  }

  int fd_ = -1;
  bool owned_ = false;
  struct termios saved_ {};
  struct sigaction old_fatal_[std::size(fatal_signals)]{};
  struct sigaction old_winch_ {};
};

bool use_color() {
  const char* no = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  return (no == nullptr || *no == '\0') && !(term != nullptr && std::string_view(term) == "dumb");
}

std::size_t display_width(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return !is_continuation(c); }));
}

// Cuts `s` to `width` characters: a line that wraps would break the count of lines to erase.
std::string fit(std::string_view s, std::size_t width) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!is_continuation(s[i]) && chars++ == width) return std::string(s.substr(0, i));
  }
  return std::string(s);
}

// Colours only the markers; the text keeps the terminal's colour.
std::string paint(const std::string& line, bool color) {
  if (!color) return line;
  if (line.rfind("? ", 0) == 0) return "\x1b[32m?\x1b[0m" + line.substr(1);
  if (line.rfind("> ", 0) == 0) return "\x1b[36m" + line + "\x1b[0m";
  if (line.rfind("  ! ", 0) == 0) return "\x1b[33m" + line + "\x1b[0m";
  return line;
}

// A block of lines at the bottom of the terminal that can be redrawn in place.
class block {
 public:
  block(const raw_terminal& t, bool color) : term_(t), color_(color) {}

  // Draws `lines`, leaving the cursor at (`row`, `col`) of the block (at the end when row is
  // npos).
  void draw(const std::vector<std::string>& lines, std::size_t row = std::string::npos,
            std::size_t col = 0) {
    const auto width = term_.size().first;
    std::string out = erase_sequence();
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (i) out += "\r\n";
      out += paint(fit(lines[i], width > 1 ? width - 1 : width), color_);
    }
    const auto last = lines.empty() ? 0 : lines.size() - 1;
    row_ = last;
    if (row != std::string::npos && row < last) {
      out += "\x1b[" + std::to_string(last - row) + "A\r";
      if (col) out += "\x1b[" + std::to_string(std::min(col, width - 1)) + "C";
      row_ = row;
    }
    write_all(2, out);
  }

  // Erases the block, leaving the cursor where it started.
  void clear() {
    write_all(2, erase_sequence());
    row_ = 0;
  }

 private:
  std::string erase_sequence() const {
    std::string s;
    if (row_) s += "\x1b[" + std::to_string(row_) + "A";
    return s + "\r\x1b[J";
  }
  const raw_terminal& term_;
  bool color_;
  std::size_t row_ = 0;  // the cursor's row inside the block
};

void print_answer(std::string_view title, std::string_view answer, bool color) {
  std::string line =
      color ? paint(question(title), true) + " \x1b[36m" + std::string(answer) + "\x1b[0m"
            : question(title) + " " + std::string(answer);
  write_all(2, line + "\n");
}

std::vector<std::size_t> run_list(const std::string& title, const std::vector<std::string>& options,
                                  bool multi) {
  if (options.empty()) throw std::runtime_error("nothing to choose from for " + title);
  std::cout.flush();  // results printed so far must come before the prompt
  const bool color = use_color();
  list_prompt p(options, multi);
  if (p.answered_automatically()) {
    print_answer(title, options[0] + " (only option)", color);
    return p.answer();
  }
  auto action = prompt_action::redraw;
  {
    raw_terminal term;
    block b(term, color);
    write_all(2, hide_cursor);
    auto rows = [&] {
      auto h = term.size().second;
      return std::clamp<std::size_t>(h > 4 ? h - 4 : 1, 1, 12);
    };
    b.draw(render_list(title, p, rows()));
    while (action == prompt_action::redraw) {
      for (const auto& k : term.read_keys()) {
        action = p.on_key(k);
        if (action != prompt_action::redraw) break;
      }
      if (action == prompt_action::redraw) b.draw(render_list(title, p, rows()));
    }
    b.clear();
  }
  if (action == prompt_action::abort) {
    write_all(2, question(title) + "\n");
    throw prompt_aborted();
  }
  auto picked = p.answer();
  print_answer(title, join_answer(options, picked), color);
  return picked;
}

}  // namespace

std::size_t select_one(const std::string& title, const std::vector<std::string>& options) {
  return run_list(title, options, false).at(0);
}

std::vector<std::size_t> select_many(const std::string& title,
                                     const std::vector<std::string>& options) {
  return run_list(title, options, true);
}

std::string ask_text(const std::string& title, const std::string& default_value,
                     const text_validator& validator) {
  std::cout.flush();
  const bool color = use_color();
  text_prompt p(default_value, validator);
  auto action = prompt_action::redraw;
  {
    raw_terminal term;
    block b(term, color);
    auto draw = [&] {
      // `? Duration in hours (1): `: the default sits where the answer will go.
      std::string head =
          default_value.empty() ? question(title) : question(title + " (" + default_value + ")");
      head += " ";
      const auto col = display_width(head) + display_width(p.typed());
      std::vector<std::string> lines{head + p.typed()};
      if (!p.error().empty()) lines.push_back("  ! " + p.error());
      b.draw(lines, 0, col);
    };
    draw();
    while (action == prompt_action::redraw) {
      for (const auto& k : term.read_keys()) {
        action = p.on_key(k);
        if (action != prompt_action::redraw) break;
      }
      if (action == prompt_action::redraw) draw();
    }
    b.clear();
  }
  if (action == prompt_action::abort) {
    write_all(2, question(title) + "\n");
    throw prompt_aborted();
  }
  auto answer = p.answer();
  print_answer(title, answer, color);
  return answer;
}

}  // namespace apono::cli
