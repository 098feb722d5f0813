// The ProxyCommand relay on socket pairs standing in for ssh's pipes and the host: bytes both
// ways unchanged (more than one buffer's worth), ssh's end of input passed on as a half-close,
// the host's close ending the relay, and a grant's end ending it at once even mid-transfer.
#include "launchers/ssh/ssh_relay.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <string>
#include <thread>

#include "common/time.hpp"
#include "proxy/grant_watch.hpp"

using namespace apono;
using namespace std::chrono_literals;

namespace {

// Both ends of a stream socket pair; closes what is still open.
struct pair_fds {
  int fd[2] = {-1, -1};
  pair_fds() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) == 0); }
  ~pair_fds() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
};

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

void write_all(int fd, const std::string& s) {
  for (std::size_t done = 0; done < s.size();) {
    ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    REQUIRE(n > 0);
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

TEST_CASE("the relay copies both ways until the host closes") {
  pair_fds ssh_in, ssh_out, host;  // ssh writes ssh_in[0], reads ssh_out[0]; host is host[0]
  common::system_clock clock;
  proxy::grant_watch watch("AR-00001", clock.now() + 1h, clock);
  auto relay = std::async(std::launch::async, [&] {
    auto how = launchers::relay_stream(ssh_in.fd[1], ssh_out.fd[1], host.fd[1], &watch);
    launchers::close_relay(ssh_out.fd[1], host.fd[1]);
    ssh_out.fd[1] = host.fd[1] = -1;
    return how;
  });
  const std::string up(300 * 1024, 'u');  // several times the relay's buffer
  const std::string down(200 * 1024, 'd');
  auto host_side = std::async(std::launch::async, [&] {
    auto got = read_all(host.fd[0]);  // ends with ssh's half-close
    write_all(host.fd[0], down);
    ::shutdown(host.fd[0], SHUT_WR);
    return got;
  });
  write_all(ssh_in.fd[0], up);
  ::shutdown(ssh_in.fd[0], SHUT_WR);
  CHECK(read_all(ssh_out.fd[0]) == down);
  CHECK(host_side.get() == up);
  CHECK(relay.get() == launchers::relay_end::closed);
}

TEST_CASE("the grant's end cuts the relay at once, mid-transfer, and ssh sees end of stream") {
  pair_fds ssh_in, ssh_out, host;
  common::system_clock clock;
  proxy::grant_watch watch("AR-00001", clock.now() + 1h, clock);
  auto relay = std::async(std::launch::async, [&] {
    auto how = launchers::relay_stream(ssh_in.fd[1], ssh_out.fd[1], host.fd[1], &watch);
    launchers::close_relay(ssh_out.fd[1], host.fd[1]);
    ssh_out.fd[1] = host.fd[1] = -1;
    return how;
  });
  // A host that keeps sending and nobody reading on ssh's side: the relay is blocked on output.
  auto flood = std::async(std::launch::async, [&] {
    std::string chunk(64 * 1024, 'x');
    while (::send(host.fd[0], chunk.data(), chunk.size(), MSG_NOSIGNAL) > 0) {
    }
  });
  // Mid-transfer: once bytes reach ssh's side (then left unread, so the relay's output fills).
  pollfd ready{ssh_out.fd[0], POLLIN, 0};
  REQUIRE(::poll(&ready, 1, 5000) == 1);
  auto at = std::chrono::steady_clock::now();
  watch.end(proxy::end_cause::revoked);
  CHECK(relay.wait_for(1s) == std::future_status::ready);
  CHECK(std::chrono::steady_clock::now() - at < 1s);
  CHECK(relay.get() == launchers::relay_end::access_ended);
  flood.get();              // the host's sends fail once the relay has closed its socket
  read_all(ssh_out.fd[0]);  // and ssh's side reaches end of stream
}

TEST_CASE("connect_tcp: a clear error for a port nobody listens on, a socket for one that does") {
  // A port that was free a moment ago: bind, read it, close.
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  int port = ntohs(a.sin_port);
  std::string error;
  CHECK(launchers::connect_tcp("127.0.0.1", port, nullptr, error) == -1);
  CHECK(error.rfind("cannot connect to 127.0.0.1:" + std::to_string(port) + ": ", 0) == 0);
  REQUIRE(::listen(s, 1) == 0);
  error.clear();
  int fd = launchers::connect_tcp("127.0.0.1", port, nullptr, error);
  CHECK(fd >= 0);
  CHECK(error.empty());
  if (fd >= 0) ::close(fd);
  ::close(s);
}
