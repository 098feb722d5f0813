#include "common/shell.hpp"

namespace apono::common {

std::string shell_quote(std::string_view s) {
  // Characters no POSIX shell treats specially anywhere in a word: such a word reads as typed.
  const bool safe = !s.empty() && s.find_first_not_of(
                                      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789@%+=:,./-_") == std::string_view::npos;
  if (safe) return std::string(s);
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

}  // namespace apono::common
