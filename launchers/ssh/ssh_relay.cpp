// The relay behind ssh's ProxyCommand: one poll() loop over ssh's pipes, the host's socket and
// the grant's watch. Unlike `access connect --client ssh`, nothing here owns the ssh process (it
// is ssh that started us), so access ends by closing the connection under it: ssh sees the
// stream end and exits, and so do scp, sftp, rsync and git on top of it.
#include "launchers/ssh/ssh_relay.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>

namespace apono::launchers {

namespace {

using namespace std::chrono_literals;

constexpr auto connect_timeout = 30s;

void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// One direction of the pipe: bytes read from `from` wait in `buf` until `to` takes them.
struct direction {
  int from = -1;
  int to = -1;
  bool to_is_socket = false;
  char buf[64 * 1024];
  std::size_t off = 0;
  std::size_t len = 0;
  bool eof = false;   // `from` said end of stream
  bool done = false;  // and everything before it was written
};

// Returns false when `to` failed (the peer is gone).
bool flush(direction& d) {
  while (d.len > 0) {
    ssize_t n = d.to_is_socket ? ::send(d.to, d.buf + d.off, d.len, MSG_NOSIGNAL)
                               : ::write(d.to, d.buf + d.off, d.len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n <= 0) return false;
    d.off += static_cast<std::size_t>(n);
    d.len -= static_cast<std::size_t>(n);
  }
  d.off = 0;
  return true;
}

// Reads what is there; false on a read error (treated like the end of the stream by the caller).
void fill(direction& d) {
  for (;;) {
    ssize_t n = ::read(d.from, d.buf, sizeof d.buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      d.eof = true;
      return;
    }
    d.off = 0;
    d.len = static_cast<std::size_t>(n);
    return;
  }
}

}  // namespace

int connect_tcp(const std::string& host, int port, const proxy::grant_watch* watch,
                std::string& error) {
  const std::string where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &list); rc != 0) {
    error = "cannot connect to " + where + ": " + ::gai_strerror(rc);
    return -1;
  }
  const auto deadline = std::chrono::steady_clock::now() + connect_timeout;
  std::string last = "no address";
  int fd = -1;
  for (auto* a = list; a && fd < 0; a = a->ai_next) {
    int s = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (s < 0) {
      last = std::strerror(errno);
      continue;
    }
    int rc = ::connect(s, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left <= 0ms) {
          errno = ETIMEDOUT;
          break;
        }
        pollfd fds[2] = {{s, POLLOUT, 0}, {watch ? watch->wait_fd() : -1, POLLIN, 0}};
        int n = ::poll(fds, 2, static_cast<int>(left.count()));
        if (n < 0 && errno == EINTR) continue;
        if (watch && watch->ended()) {
          ::close(s);
          ::freeaddrinfo(list);
          error.clear();
          return -1;
        }
        if (n > 0 && fds[0].revents) {
          int err = 0;
          socklen_t len = sizeof err;
          ::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
          rc = err == 0 ? 0 : -1;
          errno = err;
          break;
        }
      }
    }
    if (rc == 0) {
      fd = s;
    } else {
      last = std::strerror(errno);
      ::close(s);
    }
  }
  ::freeaddrinfo(list);
  if (fd < 0) error = "cannot connect to " + where + ": " + last;
  return fd;
}

relay_end relay_stream(int in_fd, int out_fd, int sock, const proxy::grant_watch* watch) {
  set_nonblocking(in_fd);
  set_nonblocking(out_fd);
  set_nonblocking(sock);
  auto up = std::make_unique<direction>();
  auto down = std::make_unique<direction>();
  up->from = in_fd;
  up->to = sock;
  up->to_is_socket = true;
  down->from = sock;
  down->to = out_fd;

  relay_end how = relay_end::closed;
  for (;;) {
    if (watch && watch->ended()) {
      how = relay_end::access_ended;
      break;
    }
    // The host's side ending ends the session; ssh's side ending is passed on as a half-close
    // and the host gets to finish (it closes in turn).
    if (down->done) break;
    pollfd fds[5];
    int n = 0;
    fds[n++] = {watch ? watch->wait_fd() : -1, POLLIN, 0};
    for (auto* d : {up.get(), down.get()}) {
      if (d->done) continue;
      if (d->len > 0)
        fds[n++] = {d->to, POLLOUT, 0};
      else if (!d->eof)
        fds[n++] = {d->from, POLLIN, 0};
    }
    if (::poll(fds, static_cast<nfds_t>(n), -1) < 0 && errno != EINTR) break;
    bool failed = false;
    for (auto* d : {up.get(), down.get()}) {
      if (d->done) continue;
      if (d->len == 0 && !d->eof) fill(*d);
      if (d->len > 0 && !flush(*d)) failed = true;
      if (d->eof && d->len == 0) {
        d->done = true;
        if (d->to_is_socket) ::shutdown(d->to, SHUT_WR);
      }
    }
    if (failed) break;
  }
  return how;
}

void close_relay(int out_fd, int sock) {
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  ::close(out_fd);
}

}  // namespace apono::launchers
