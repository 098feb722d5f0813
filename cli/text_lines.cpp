// Line splitting shared by the ~/.aws/config and kubeconfig editors.
#include "cli/text_lines.hpp"

namespace apono::cli {

std::vector<text_line> split_lines(std::string_view text) {
  std::vector<text_line> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      lines.push_back({pos, text.substr(pos), {}});
      break;
    }
    auto body_end = nl > pos && text[nl - 1] == '\r' ? nl - 1 : nl;
    lines.push_back(
        {pos, text.substr(pos, body_end - pos), text.substr(body_end, nl + 1 - body_end)});
    pos = nl + 1;
  }
  return lines;
}

std::string_view line_ending(const std::vector<text_line>& lines) {
  return !lines.empty() && lines.front().eol == "\r\n" ? "\r\n" : "\n";
}

bool has_bare_cr(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) return true;
  return false;
}

std::size_t line_offset(const std::vector<text_line>& lines, std::size_t i, std::size_t text_size) {
  return i < lines.size() ? lines[i].begin : text_size;
}

}  // namespace apono::cli
