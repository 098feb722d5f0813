// Terminal prompts for the interactive flow: pick one, pick many, type a value. Each widget is
// a pure state machine (keys in, state and an action out: unit-tested without a terminal) and
// a thin driver that puts the terminal in raw mode, decodes keys and draws on stderr, so
// stdout stays clean for results.
#pragma once

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace apono::cli {

/// One key press as the widgets see it.
struct key {
  /// What was pressed.
  enum class kind {
    character,  ///< a printable byte in `ch` (UTF-8 sequences arrive one byte per key)
    up,         ///< arrow up
    down,       ///< arrow down
    home,       ///< Home
    end,        ///< End
    enter,      ///< Enter / Return
    backspace,  ///< Backspace (DEL or ^H)
    escape,     ///< Esc on its own, not the start of a sequence
    interrupt,  ///< Ctrl-C
    eof,        ///< Ctrl-D
    kill_line,  ///< Ctrl-U
    other,      ///< anything else (unknown sequences, control bytes); ignored
  };
  kind k = kind::other;  ///< what was pressed
  char ch = 0;           ///< the byte when `k` is character

  /// A printable character.
  static key character(char c) { return {kind::character, c}; }
  friend bool operator==(const key&, const key&) = default;
};

/// Splits bytes read from a raw terminal into keys. An escape byte at the very end of `bytes`
/// counts as Esc; the driver makes sure a whole sequence is read before calling this.
[[nodiscard]] std::vector<key> decode_keys(std::string_view bytes);

/// What a widget wants after a key.
enum class prompt_action {
  redraw,  ///< state changed (or not): draw again and read the next key
  submit,  ///< the answer is ready
  abort,   ///< Ctrl-C or Ctrl-D: give up
};

/// The state of a list prompt: options, the filter, the cursor and (multi-select) the
/// selection. Pure: no I/O.
///
/// Keys: up/down (and k/j when not filtering) move with wrap-around; `/` starts a filter,
/// typed text narrows the list (case-insensitive substring), Backspace edits it (and leaves
/// filter mode when it is empty), Esc clears it; space toggles the current option in a
/// multi-select (in a single-select it is filter text); Enter submits the option under the
/// cursor, or the selection, which must not be empty; Ctrl-C and Ctrl-D abort.
class list_prompt {
 public:
  /// A prompt over `options` (at least one); `multi` allows several answers.
  list_prompt(std::vector<std::string> options, bool multi);

  /// Applies one key.
  [[nodiscard]] prompt_action on_key(const key& k);

  /// True when there is exactly one option: it is the answer without asking.
  [[nodiscard]] bool answered_automatically() const { return options_.size() == 1; }
  /// The answer: the option under the cursor, or the selected options in list order.
  /// Meaningful after submit or when answered automatically.
  [[nodiscard]] std::vector<std::size_t> answer() const;

  /// All options.
  [[nodiscard]] const std::vector<std::string>& options() const { return options_; }
  /// Indices into options() of those matching the filter, in list order.
  [[nodiscard]] const std::vector<std::size_t>& visible() const { return visible_; }
  /// Position of the cursor in visible(); 0 when nothing is visible.
  [[nodiscard]] std::size_t cursor() const { return cursor_; }
  /// The option under the cursor, or options().size() when nothing matches the filter.
  [[nodiscard]] std::size_t current() const;
  /// True while `/` filter mode is on.
  [[nodiscard]] bool filtering() const { return filtering_; }
  /// The filter text.
  [[nodiscard]] const std::string& filter() const { return filter_; }
  /// True for a multi-select.
  [[nodiscard]] bool multi() const { return multi_; }
  /// True when option `i` is selected (multi-select).
  [[nodiscard]] bool selected(std::size_t i) const { return selected_.at(i); }
  /// A one-line hint for the user after a refused key ("" when none).
  [[nodiscard]] const std::string& hint() const { return hint_; }

 private:
  void refilter();
  void move(int delta);
  std::vector<std::string> options_;
  bool multi_;
  std::vector<bool> selected_;
  std::vector<std::size_t> visible_;
  std::size_t cursor_ = 0;
  bool filtering_ = false;
  std::string filter_;
  std::string hint_;
};

/// Checks a typed value: "" when it is acceptable, else a one-line reason.
using text_validator = std::function<std::string(const std::string&)>;

/// The state of a text prompt: the typed text, the default and the last validation error.
/// Enter on empty text takes the default; Backspace deletes a character (a whole UTF-8
/// sequence), Ctrl-U the line; Ctrl-C and Ctrl-D abort.
class text_prompt {
 public:
  /// A prompt answering `default_value` on empty input, checked by `validator` (may be empty).
  text_prompt(std::string default_value, text_validator validator);

  /// Applies one key.
  [[nodiscard]] prompt_action on_key(const key& k);

  /// What was typed so far.
  [[nodiscard]] const std::string& typed() const { return typed_; }
  /// The default answer ("" for none).
  [[nodiscard]] const std::string& default_value() const { return default_; }
  /// The answer: the typed text without surrounding blanks, or the default when that is empty.
  [[nodiscard]] std::string answer() const;
  /// Why the last Enter was refused ("" when it was not).
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  std::string default_;
  text_validator validator_;
  std::string typed_;
  std::string error_;
};

/// The lines a list prompt shows (no colours, no escapes), at most `max_rows` options around
/// the cursor; the first line is the title.
[[nodiscard]] std::vector<std::string> render_list(std::string_view title, const list_prompt& p,
                                                   std::size_t max_rows);

/// Thrown by the widgets when the user presses Ctrl-C or Ctrl-D; the terminal is already
/// restored when it propagates. The caller prints `Aborted.` and exits 130.
class prompt_aborted : public std::runtime_error {
 public:
  prompt_aborted() : std::runtime_error("aborted") {}
};

/// Asks to pick one of `options` (not empty) and returns its index. With one option it asks
/// nothing and prints `? Title: option (only option)`. Reads /dev/tty (or stdin), draws on
/// stderr; throws prompt_aborted on Ctrl-C/Ctrl-D.
[[nodiscard]] std::size_t select_one(const std::string& title,
                                     const std::vector<std::string>& options);
/// Like select_one, for one or more options; returns their indices in list order.
[[nodiscard]] std::vector<std::size_t> select_many(const std::string& title,
                                                   const std::vector<std::string>& options);
/// Asks for a line of text; empty input answers `default_value`; `validator` may refuse it.
[[nodiscard]] std::string ask_text(const std::string& title, const std::string& default_value,
                                   const text_validator& validator = {});

}  // namespace apono::cli
