// The floor for scripts/bench/proxy: the least a user-space relay can do per round trip. One
// thread, one level-triggered epoll set, a byte pipe per direction: a readable socket is read
// once into a 64 KB buffer and written whole to its peer, nothing else (no protocol, no
// timers, no allocation after accept). A short read means the socket is drained, so no read
// ever fails with EAGAIN; level triggering brings a socket back while data is left. Writes that
// would block (bulk copies into a slow reader) finish with a blocking poll on that one socket,
// which a request/response benchmark never reaches. Its CPU time per transaction is what the
// proxy's is compared with. It listens on a unix socket (the floor of the proxy's unix
// listener) or on a loopback TCP port with TCP_NODELAY on both sides (the floor of its TCP
// listener: a TCP hop costs more kernel time than a unix one).
//
//   epoll_relay LISTEN UPSTREAM_PORT    LISTEN: a unix socket path, or tcp:PORT (127.0.0.1;
//                                       0 picks one, printed as "listening on PORT");
//                                       upstream on 127.0.0.1; Ctrl-C or TERM ends
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr std::size_t buffer_size = 64 * 1024;

// Both ends of one relayed connection; `peer` of an end is the other end.
struct end {
  int fd = -1;
  end* peer = nullptr;
};

volatile sig_atomic_t stopping = 0;
end skip;  // marks events of a pair closed earlier in the same batch

void on_signal(int) {
  stopping = 1;
}

// Writes all of `n` bytes, waiting for room when the socket's buffer is full.
bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= static_cast<std::size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      pollfd pfd{fd, POLLOUT, 0};
      if (::poll(&pfd, 1, -1) < 0 && errno != EINTR) return false;
      continue;
    }
    return false;
  }
  return true;
}

void no_delay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int connect_upstream(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  no_delay(fd);
  return fd;
}

// A listening socket on `where` (a unix path or tcp:PORT); its TCP port in `port`, or -1 on
// failure with the reason printed.
int listen_on(const std::string& where, int& port) {
  port = 0;
  if (where.rfind("tcp:", 0) == 0) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(std::atoi(where.c_str() + 4)));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd, 512) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      std::fprintf(stderr, "epoll_relay: cannot listen on %s: %s\n", where.c_str(),
                   std::strerror(errno));
      return -1;
    }
    port = ntohs(a.sin_port);
    return fd;
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un ua{};
  ua.sun_family = AF_UNIX;
  if (where.size() >= sizeof ua.sun_path) {
    std::fprintf(stderr, "epoll_relay: socket path too long\n");
    return -1;
  }
  std::memcpy(ua.sun_path, where.c_str(), where.size() + 1);
  ::unlink(where.c_str());
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&ua), sizeof ua) != 0 ||
      ::listen(fd, 512) != 0) {
    std::fprintf(stderr, "epoll_relay: cannot listen on %s: %s\n", where.c_str(),
                 std::strerror(errno));
    return -1;
  }
  return fd;
}

void close_pair(int ep, end* e) {
  end* p = e->peer;
  for (end* x : {e, p}) {
    ::epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, nullptr);
    ::close(x->fd);
  }
  delete e;
  delete p;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(
        stderr,
        "usage: epoll_relay LISTEN UPSTREAM_PORT  (LISTEN: a unix socket path or tcp:PORT)\n");
    return 2;
  }
  const std::string where = argv[1];
  const int port = std::atoi(argv[2]);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  int tcp_port = 0;
  int lfd = listen_on(where, tcp_port);
  if (lfd < 0) return 1;
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event lev{EPOLLIN, {.ptr = nullptr}};
  ::epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  if (tcp_port != 0)
    std::fprintf(stdout, "listening on %d\n", tcp_port);
  else
    std::fprintf(stdout, "listening\n");
  std::fflush(stdout);

  std::vector<char> buf(buffer_size);
  epoll_event events[64];
  while (!stopping) {
    int n = ::epoll_wait(ep, events, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      auto* e = static_cast<end*>(events[i].data.ptr);
      if (e == &skip) continue;
      if (e == nullptr) {
        int cfd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
        if (cfd < 0) continue;
        if (tcp_port != 0) no_delay(cfd);
        int ufd = connect_upstream(port);
        if (ufd < 0) {
          ::close(cfd);
          continue;
        }
        auto* c = new end{cfd};
        auto* u = new end{ufd, c};
        c->peer = u;
        for (end* x : {c, u}) {
          epoll_event ev{EPOLLIN | EPOLLRDHUP, {.ptr = x}};
          ::epoll_ctl(ep, EPOLL_CTL_ADD, x->fd, &ev);
        }
        continue;
      }
      ssize_t r = ::recv(e->fd, buf.data(), buf.size(), 0);
      if (r > 0 && write_all(e->peer->fd, buf.data(), static_cast<std::size_t>(r))) continue;
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      // A closed or failed end closes the pair; the rest of this batch may name either end.
      end* gone[2] = {e, e->peer};
      close_pair(ep, e);
      for (int j = i + 1; j < n; ++j) {
        if (events[j].data.ptr == gone[0] || events[j].data.ptr == gone[1])
          events[j].data.ptr = &skip;
      }
    }
  }
  if (tcp_port == 0) ::unlink(where.c_str());
  return 0;
}
