// pg_log_generic's layout as psql configures it (progname "apono" instead of "psql").
#include "launchers/shell/diagnostics.hpp"

namespace apono::launchers::shell {

void diagnostics::info(std::string_view message) {
  emit(nullptr, message);
}

void diagnostics::error(std::string_view message) {
  emit("error: ", message);
}

void diagnostics::warning(std::string_view message) {
  emit("warning: ", message);
}

void diagnostics::plain(std::string_view message) {
  std::fflush(out_);
  std::fwrite(message.data(), 1, message.size(), err_);
  std::fputc('\n', err_);
  std::fflush(err_);
}

void diagnostics::push_file(std::string name) {
  files_.push_back({std::move(name), 0});
}

void diagnostics::pop_file() {
  if (!files_.empty()) files_.pop_back();
}

void diagnostics::set_line(long line) {
  if (!files_.empty()) files_.back().line = line;
}

void diagnostics::emit(const char* label, std::string_view message) {
  // Results printed so far must come before the message, as psql's pre-log callback ensures.
  std::fflush(out_);
  std::string text;
  const bool decorated = !terse_ || !files_.empty();
  if (decorated) {
    text = "apono:";
    if (!files_.empty()) {
      text += files_.back().file + ":";
      if (files_.back().line > 0) text += std::to_string(files_.back().line) + ":";
    }
    text += ' ';
    if (label != nullptr) text += label;
  }
  // libpq's messages end in a newline; psql strips one and adds its own.
  if (!message.empty() && message.back() == '\n') message.remove_suffix(1);
  text += message;
  text += '\n';
  std::fwrite(text.data(), 1, text.size(), err_);
  std::fflush(err_);
}

}  // namespace apono::launchers::shell
