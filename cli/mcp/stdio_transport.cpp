// Line framing over raw descriptors: no stdio buffering on stdout, so a message is written
// whole or not at all and nothing else can slip between two of them.
#include "cli/mcp/stdio_transport.hpp"

#include <unistd.h>

#include <boost/json.hpp>

#include <cerrno>

namespace apono::cli::mcp {

bool stdio_transport::read_line(std::string& line, bool& too_long) {
  too_long = false;
  for (;;) {
    auto nl = buffer_.find('\n', scanned_);
    if (nl != std::string::npos) {
      too_long = nl > max_line;
      line.assign(buffer_, 0, too_long ? 64 : nl);
      buffer_.erase(0, nl + 1);
      scanned_ = 0;
      if (!too_long && !line.empty() && line.back() == '\r') line.pop_back();
      return true;
    }
    scanned_ = buffer_.size();
    if (buffer_.size() > max_line) {
      // Skip to the end of this line, keeping its start for the error.
      line.assign(buffer_, 0, 64);
      too_long = true;
      char c;
      for (;;) {
        ssize_t n = ::read(in_, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || c == '\n') break;
      }
      buffer_.clear();
      scanned_ = 0;
      return true;
    }
    if (eof_) {
      if (buffer_.empty()) return false;
      line.swap(buffer_);  // a last line without its newline still counts
      buffer_.clear();
      scanned_ = 0;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return true;
    }
    char chunk[65536];
    ssize_t n = ::read(in_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof_ = true;
      continue;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

bool stdio_transport::send(const boost::json::value& message) {
  // serialize() escapes control characters, so the line holds no raw newline.
  std::string text = boost::json::serialize(message);
  text += '\n';
  std::lock_guard lock(write_mutex_);
  if (broken_) return false;
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(out_, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      broken_ = true;
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace apono::cli::mcp
