// MCP's stdio transport: one JSON-RPC message per line on stdin and stdout. Lines may end in
// CRLF; stdout carries nothing but these messages (logs go to stderr).
#pragma once

#include <boost/json/value.hpp>

#include <mutex>
#include <string>

namespace apono::cli::mcp {

/// Reads lines from one descriptor and writes whole messages to another.
class stdio_transport {
 public:
  /// Reads from `in_fd`, writes to `out_fd` (neither is closed here).
  stdio_transport(int in_fd, int out_fd) : in_(in_fd), out_(out_fd) {}

  /// The next line without its LF or CRLF; false at end of input. Lines over `max_line`
  /// bytes are returned cut with `too_long` set, so the caller can answer a parse error.
  [[nodiscard]] bool read_line(std::string& line, bool& too_long);
  /// Writes `message` as one line; safe from any thread; false once the reader has gone.
  bool send(const boost::json::value& message);

  /// The longest line accepted whole.
  static constexpr std::size_t max_line = 8 * 1024 * 1024;

 private:
  int in_;
  int out_;
  std::string buffer_;
  std::size_t scanned_ = 0;
  bool eof_ = false;
  std::mutex write_mutex_;
  bool broken_ = false;
};

}  // namespace apono::cli::mcp
