// The relay loop's commands over socket pairs, without a server: a batch of final injects
// reaches the loop as one, so the end of access is one instant for every session (no session
// relays a query after another session's client was told that access ended).
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "proxy/relay_loop.hpp"
#include "tests/proxy/pg/wire.hpp"
#include "tests/support/process.hpp"

namespace {

using namespace apono::proxy;
using namespace std::chrono_literals;

// One relayed session: the test holds the client's and the server's far ends.
struct pair_session {
  int client = -1;  // what the client writes and reads
  int server = -1;  // what the server writes and reads
  std::uint64_t id = 0;
  std::atomic<bool> ended{false};
  std::atomic<bool> fatal_sent{false};
  owned_fd back_client, back_server;  // the descriptors the loop gave back (io thread only)

  pair_session() = default;
  pair_session(const pair_session&) = delete;
  pair_session& operator=(const pair_session&) = delete;
  ~pair_session() {
    if (client >= 0) ::close(client);
    if (server >= 0) ::close(server);
  }

  void start(relay_loop& loop) {
    int c[2], s[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c) == 0);
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) == 0);
    client = c[0];
    server = s[0];
    id = loop.add(owned_fd(c[1]), owned_fd(s[1]), pg::frame_tracker{}, [this](relay_end e) {
      back_client = std::move(e.client);
      back_server = std::move(e.server);
      fatal_sent = e.fatal_sent;
      ended = true;
    });
  }
};

void send_all(int fd, const std::string& bytes) {
  REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(bytes.size()));
}

// Whatever arrives on `fd` within `timeout` (stops early once `want` bytes are in).
std::string read_for(int fd, std::size_t want, std::chrono::milliseconds timeout) {
  std::string got;
  for (auto until = std::chrono::steady_clock::now() + timeout;
       got.size() < want && std::chrono::steady_clock::now() < until;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    char buf[4096];
    auto n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

// True when `fd` has bytes to read right now.
bool readable_now(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

std::string message(char type, const std::string& body) {
  return std::string(1, type) + apono::test::be32(static_cast<std::uint32_t>(4 + body.size())) +
         body;
}

}  // namespace

TEST_CASE("a batch of final injects reaches every session at one instant", "[proxy][relay]") {
  boost::asio::io_context ioc;
  auto work = boost::asio::make_work_guard(ioc);
  std::thread io([&] { ioc.run(); });
  {
    relay_loop loop(ioc);
    pair_session a, b;
    a.start(loop);
    b.start(loop);

    // Both relay before the end.
    const std::string query = message('Q', std::string("select 1", 9));
    send_all(b.client, query);
    CHECK(read_for(b.server, query.size(), 10s) == query);

    const std::string fatal = message('E', "SFATAL");
    {
      relay_loop::batch together(loop);
      loop.inject(a.id, fatal, true);
      // While the batch is open the loop goes on relaying; the command waits for the rest.
      send_all(b.client, query);
      INFO("waited for b's query to cross the loop while a's cut was held back");
      REQUIRE(read_for(b.server, query.size(), 10s) == query);
      CHECK_FALSE(readable_now(a.client));
      loop.inject(b.id, fatal, true);
    }

    // Both clients are told together; b's next query, sent once a's client has the FATAL,
    // does not reach the server.
    CHECK(read_for(a.client, fatal.size(), 10s) == fatal);
    send_all(b.client, query);
    CHECK(read_for(b.client, fatal.size(), 10s) == fatal);
    {
      INFO("waited for both relays to end with their FATAL out");
      REQUIRE(apono::test::wait_until([&] { return a.ended && b.ended; }, 10s));
    }
    CHECK(a.fatal_sent);
    CHECK(b.fatal_sent);
    CHECK_FALSE(readable_now(b.server));
  }
  work.reset();
  io.join();
}

TEST_CASE("commands outside a batch reach the loop at once", "[proxy][relay]") {
  boost::asio::io_context ioc;
  auto work = boost::asio::make_work_guard(ioc);
  std::thread io([&] { ioc.run(); });
  {
    relay_loop loop(ioc);
    pair_session a;
    a.start(loop);
    const std::string notice = message('N', "SWARNING");
    loop.inject(a.id, notice, false);
    // A notice goes out before the server's next message; the session goes on.
    const std::string ready = message('Z', "I");
    send_all(a.server, ready);
    CHECK(read_for(a.client, notice.size() + ready.size(), 10s) == notice + ready);
    loop.close(a.id);
    {
      INFO("waited for close() to hand the descriptors back");
      REQUIRE(apono::test::wait_until([&] { return a.ended.load(); }, 10s));
    }
    CHECK_FALSE(a.fatal_sent);
  }
  work.reset();
  io.join();
}
