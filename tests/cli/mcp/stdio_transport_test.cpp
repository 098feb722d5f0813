// The stdio framing: LF and CRLF lines, a last line without its newline, and messages that
// go out as exactly one line each.
#include "cli/mcp/stdio_transport.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <thread>

using namespace apono::cli::mcp;

namespace {

struct pipe_pair {
  int fds[2];
  pipe_pair() { REQUIRE(::pipe(fds) == 0); }
  ~pipe_pair() {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
  }
  void write_all(std::string_view s) const {
    REQUIRE(::write(fds[1], s.data(), s.size()) == static_cast<ssize_t>(s.size()));
  }
  void close_write() {
    ::close(fds[1]);
    fds[1] = -1;
  }
};

}  // namespace

TEST_CASE("lines end in LF or CRLF; the last one may lack its newline") {
  pipe_pair in, out;
  in.write_all("{\"a\":1}\r\n{\"b\":2}\n\r\n{\"c\":3}");
  in.close_write();
  stdio_transport t(in.fds[0], out.fds[1]);
  std::string line;
  bool too_long = false;
  std::vector<std::string> lines;
  while (t.read_line(line, too_long)) lines.push_back(line);
  CHECK(lines == std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "", "{\"c\":3}"});
  CHECK_FALSE(too_long);
}

TEST_CASE("a message is one line, newlines in strings escaped") {
  pipe_pair in, out;
  stdio_transport t(in.fds[0], out.fds[1]);
  CHECK(t.send(boost::json::object{{"text", "two\nlines\r\n"}}));
  char buf[256];
  auto n = ::read(out.fds[0], buf, sizeof buf);
  REQUIRE(n > 0);
  std::string got(buf, static_cast<std::size_t>(n));
  CHECK(got == "{\"text\":\"two\\nlines\\r\\n\"}\n");
}

TEST_CASE("a line longer than the limit is reported, and reading goes on after it") {
  pipe_pair in, out;
  stdio_transport t(in.fds[0], out.fds[1]);
  std::thread writer([&] {
    std::string big(stdio_transport::max_line + 100, 'x');
    big += "\n{\"ok\":true}\n";
    in.write_all(big);
    in.close_write();
  });
  std::string line;
  bool too_long = false;
  REQUIRE(t.read_line(line, too_long));
  CHECK(too_long);
  REQUIRE(t.read_line(line, too_long));
  CHECK_FALSE(too_long);
  CHECK(line == "{\"ok\":true}");
  CHECK_FALSE(t.read_line(line, too_long));
  writer.join();
}
