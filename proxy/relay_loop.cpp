// The plain sessions' relay thread. Per round trip it makes the four socket calls a relay
// cannot avoid (a recv and a send each way) and shares one epoll_wait among every session
// that became ready at once. Interest changes (EPOLLOUT on, a side paused) happen only when a
// socket is full, which a request/response load never reaches.
#include "proxy/relay_loop.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include <array>
#include <cerrno>
#include <mutex>
#include <span>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

namespace apono::proxy {

owned_fd& owned_fd::operator=(owned_fd&& o) noexcept {
  if (this != &o) {
    reset();
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

int owned_fd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void owned_fd::reset(bool shutdown) {
  if (fd_ < 0) return;
  if (shutdown) ::shutdown(fd_, SHUT_RDWR);
  ::close(fd_);
  fd_ = -1;
}

namespace {

// Big enough that bulk transfers move in few system calls; one for the whole loop.
constexpr std::size_t buffer_size = 64 * 1024;
constexpr int max_events = 64;

struct relay;

// One socket of a relay, as epoll knows it.
struct side {
  relay* owner = nullptr;
  bool client = false;
  std::uint32_t interest = 0;
  bool registered = false;
};

struct relay {
  std::uint64_t id = 0;
  owned_fd cfd, sfd;
  side c, s;
  pg::frame_tracker tracker;
  std::string to_client, to_server;  // what a full socket did not take yet
  std::size_t to_client_off = 0, to_server_off = 0;
  std::string inject;        // messages waiting for a boundary
  bool final = false;        // the end of access was injected: client bytes are dropped
  bool fatal_out = false;    // the final message is on its way: end once it is out
  bool server_gone = false;  // the server closed: end once the client has everything
  bool over = false;         // ended; the rest of this batch of events ignores it
  std::function<void(relay_end)> done;
};

struct command {
  enum class kind { add, inject, close } what;
  std::uint64_t id = 0;
  std::unique_ptr<relay> r;
  std::string bytes;
  bool final = false;
};

bool would_block(int e) {
  return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

// Sends what `fd` did not take before: -1 on an error, 1 when it is all out (`out` is
// emptied), 0 when some is left (also when there was nothing to send).
int flush(int fd, std::string& out, std::size_t& off) {
  if (out.empty()) return 0;
  ssize_t w = ::send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (w < 0) return would_block(errno) ? 0 : -1;
  off += static_cast<std::size_t>(w);
  if (off < out.size()) return 0;
  out.clear();
  off = 0;
  return 1;
}

}  // namespace

struct relay_loop::impl {
  explicit impl(boost::asio::io_context& c) : ioc(c), buf(buffer_size) {}

  boost::asio::io_context& ioc;
  owned_fd ep, wake;
  std::thread thread;
  std::mutex mutex;  // guards queue, held and stopping
  std::vector<command> queue;
  int held = 0;  // live batches: the queue waits for the last to end
  bool stopping = false;
  std::uint64_t next_id = 1;  // the Asio thread's
  // The loop thread's:
  std::unordered_map<std::uint64_t, std::unique_ptr<relay>> relays;
  std::vector<std::unique_ptr<relay>> ended;  // freed after the batch that ended them
  std::vector<char> buf;

  void push(command c) {
    bool first = false;
    {
      std::lock_guard lock(mutex);
      first = queue.empty() && held == 0;
      queue.push_back(std::move(c));
    }
    if (first) notify();
  }

  void notify() {
    std::uint64_t one = 1;
    // A full counter (never, at 2^64) or EAGAIN still leaves the loop woken.
    (void)!::write(wake.get(), &one, sizeof one);
  }

  void run() {
    std::array<epoll_event, max_events> events{};
    for (;;) {
      int n = ::epoll_wait(ep.get(), events.data(), max_events, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;
      }
      for (int i = 0; i < n; ++i) {
        auto* sd = static_cast<side*>(events[i].data.ptr);
        if (sd == nullptr) {
          if (!commands()) return;
          continue;
        }
        relay& r = *sd->owner;
        if (r.over || !sd->registered) continue;
        const std::uint32_t ev = events[i].events;
        const bool broken = (ev & (EPOLLHUP | EPOLLERR)) != 0;
        if (sd->client) {
          if ((ev & EPOLLOUT) && !flush_client(r)) continue;
          if ((ev & EPOLLIN && sd->interest & EPOLLIN) || broken) read_client(r);
        } else {
          if ((ev & EPOLLOUT) && !flush_server(r)) continue;
          if ((ev & EPOLLIN && sd->interest & EPOLLIN) || broken) read_server(r);
        }
      }
      ended.clear();
    }
  }

  // Runs the queued commands; false when the loop is to stop.
  bool commands() {
    std::uint64_t count = 0;
    (void)!::read(wake.get(), &count, sizeof count);
    std::vector<command> todo;
    {
      std::lock_guard lock(mutex);
      if (stopping) return false;
      if (held > 0) return true;  // the batch's end wakes the loop again
      todo.swap(queue);
    }
    for (auto& c : todo) {
      if (c.what == command::kind::add) {
        start(std::move(c.r));
        continue;
      }
      auto it = relays.find(c.id);
      if (it == relays.end() || it->second->over) continue;  // ended meanwhile
      relay& r = *it->second;
      if (c.what == command::kind::close)
        end(r, false);
      else
        inject(r, std::move(c.bytes), c.final);
    }
    return true;
  }

  void start(std::unique_ptr<relay> r) {
    relay& x = *r;
    x.c = {&x, true, 0, false};
    x.s = {&x, false, 0, false};
    relays.emplace(x.id, std::move(r));
    for (auto [sd, fd] : {std::pair{&x.c, x.cfd.get()}, std::pair{&x.s, x.sfd.get()}}) {
      epoll_event e{EPOLLIN, {.ptr = sd}};
      if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &e) != 0) {
        end(x, false);
        return;
      }
      sd->registered = true;
      sd->interest = EPOLLIN;
    }
  }

  void set_interest(side& sd, int fd, std::uint32_t want) {
    if (!sd.registered || sd.interest == want) return;
    epoll_event e{want, {.ptr = &sd}};
    ::epoll_ctl(ep.get(), EPOLL_CTL_MOD, fd, &e);
    sd.interest = want;
  }

  // A side is read only while what it sent last has left: a slow reader slows its writer
  // instead of filling the proxy's memory.
  void update_interest(relay& r) {
    if (r.over) return;
    std::uint32_t c = 0, s = 0;
    if (r.to_server.empty() && !r.fatal_out && !r.server_gone) c |= EPOLLIN;
    if (!r.to_client.empty()) c |= EPOLLOUT;
    if (r.to_client.empty() && !r.fatal_out) s |= EPOLLIN;
    if (!r.to_server.empty()) s |= EPOLLOUT;
    set_interest(r.c, r.cfd.get(), c);
    set_interest(r.s, r.sfd.get(), s);
  }

  void end(relay& r, bool fatal_sent) {
    if (r.over) return;
    r.over = true;
    if (r.c.registered) ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, r.cfd.get(), nullptr);
    if (r.s.registered) ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, r.sfd.get(), nullptr);
    r.c.registered = r.s.registered = false;
    relay_end e{std::move(r.cfd), std::move(r.sfd), fatal_sent};
    boost::asio::post(
        ioc, [done = std::move(r.done), e = std::move(e)]() mutable { done(std::move(e)); });
    auto it = relays.find(r.id);
    if (it != relays.end()) {
      ended.push_back(std::move(it->second));
      relays.erase(it);
    }
  }

  // Sends the pieces to the client, keeping what the socket does not take. False when the
  // relay ended (the client is gone).
  bool send_client(relay& r, std::span<const iovec> parts) {
    if (!r.to_client.empty()) {
      for (const auto& p : parts)
        r.to_client.append(static_cast<const char*>(p.iov_base), p.iov_len);
      return true;
    }
    std::size_t total = 0;
    for (const auto& p : parts) total += p.iov_len;
    if (total == 0) return true;
    ssize_t w;
    do {
      if (parts.size() == 1) {
        w = ::send(r.cfd.get(), parts[0].iov_base, parts[0].iov_len, MSG_NOSIGNAL | MSG_DONTWAIT);
      } else {
        msghdr m{};
        m.msg_iov = const_cast<iovec*>(parts.data());
        m.msg_iovlen = parts.size();
        w = ::sendmsg(r.cfd.get(), &m, MSG_NOSIGNAL | MSG_DONTWAIT);
      }
    } while (w < 0 && errno == EINTR);
    if (w < 0 && !would_block(errno)) {
      end(r, false);
      return false;
    }
    std::size_t done = w < 0 ? 0 : static_cast<std::size_t>(w);
    if (done == total) return true;
    for (const auto& p : parts) {
      if (done >= p.iov_len) {
        done -= p.iov_len;
        continue;
      }
      r.to_client.append(static_cast<const char*>(p.iov_base) + done, p.iov_len - done);
      done = 0;
    }
    r.to_client_off = 0;
    update_interest(r);
    return true;
  }

  // Writes what the client's socket did not take before. False when the relay ended.
  bool flush_client(relay& r) {
    const int st = flush(r.cfd.get(), r.to_client, r.to_client_off);
    if (st < 0 || (st > 0 && (r.fatal_out || r.server_gone))) {
      end(r, st > 0 && r.fatal_out);
      return false;
    }
    if (st > 0) update_interest(r);
    return true;
  }

  bool flush_server(relay& r) {
    const int st = flush(r.sfd.get(), r.to_server, r.to_server_off);
    if (st < 0) {
      end(r, false);
      return false;
    }
    if (st > 0) update_interest(r);
    return true;
  }

  void read_client(relay& r) {
    ssize_t n = ::recv(r.cfd.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0 && would_block(errno)) return;
    if (n <= 0) {
      // Gone. A Terminate still waiting for room would make no difference: the server sees
      // the connection close right after.
      end(r, false);
      return;
    }
    // After the end nothing more reaches the server; the relay goes on until the FATAL is out.
    if (r.final || r.server_gone) return;
    const auto len = static_cast<std::size_t>(n);
    if (!r.to_server.empty()) {
      r.to_server.append(buf.data(), len);
      return;
    }
    ssize_t w;
    do {
      w = ::send(r.sfd.get(), buf.data(), len, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (w < 0 && errno == EINTR);
    if (w < 0 && !would_block(errno)) {
      end(r, false);
      return;
    }
    std::size_t sent = w < 0 ? 0 : static_cast<std::size_t>(w);
    if (sent == len) return;
    r.to_server.assign(buf.data() + sent, len - sent);
    r.to_server_off = 0;
    update_interest(r);
  }

  void read_server(relay& r) {
    ssize_t n = ::recv(r.sfd.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0 && would_block(errno)) return;
    if (n <= 0) {
      server_closed(r);
      return;
    }
    const auto len = static_cast<std::size_t>(n);
    const auto* data = reinterpret_cast<const std::uint8_t*>(buf.data());
    const std::size_t boundary = r.tracker.feed({data, len});
    if (r.inject.empty() || boundary == pg::frame_tracker::npos) {
      std::array<iovec, 1> one{{{buf.data(), len}}};
      send_client(r, one);
      return;
    }
    // After the end, nothing of the server's past the boundary reaches the client.
    const std::size_t tail = r.final ? 0 : len - boundary;
    std::array<iovec, 3> parts{{{buf.data(), boundary},
                                {r.inject.data(), r.inject.size()},
                                {buf.data() + boundary, tail}}};
    if (!send_client(r, parts)) return;
    r.inject.clear();
    if (r.final) out_final(r);
  }

  // The final message is in the client's queue (or sent): nothing more is read from either
  // side, and the relay ends as soon as the client has it.
  void out_final(relay& r) {
    r.fatal_out = true;
    if (r.to_client.empty())
      end(r, true);
    else
      update_interest(r);
  }

  void server_closed(relay& r) {
    if (r.s.registered) ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, r.sfd.get(), nullptr);
    r.s.registered = false;
    r.server_gone = true;
    // Access ended while the server's last message was in flight: the FATAL still goes out
    // if the client is between messages; mid-message it would only corrupt the stream.
    if (r.final && !r.inject.empty() && r.tracker.at_boundary()) {
      std::array<iovec, 1> one{{{r.inject.data(), r.inject.size()}}};
      if (!send_client(r, one)) return;
      r.inject.clear();
      out_final(r);
      return;
    }
    if (r.to_client.empty())
      end(r, false);
    else
      update_interest(r);
  }

  void inject(relay& r, std::string bytes, bool final) {
    if (r.final || r.fatal_out) return;
    r.inject += bytes;
    if (final) {
      r.final = true;
      // Bytes of the client's still waiting for the server's socket stay here too.
      r.to_server.clear();
      r.to_server_off = 0;
    }
    if (r.tracker.at_boundary() && !r.server_gone) {
      std::array<iovec, 1> one{{{r.inject.data(), r.inject.size()}}};
      if (!send_client(r, one)) return;
      r.inject.clear();
      if (r.final) {
        out_final(r);
        return;
      }
    }
    update_interest(r);
  }
};

relay_loop::relay_loop(boost::asio::io_context& ioc) : impl_(std::make_unique<impl>(ioc)) {
  impl_->ep = owned_fd(::epoll_create1(EPOLL_CLOEXEC));
  impl_->wake = owned_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (impl_->ep.get() < 0 || impl_->wake.get() < 0)
    throw std::system_error(errno, std::generic_category(), "cannot start the relay loop");
  epoll_event e{EPOLLIN, {.ptr = nullptr}};
  if (::epoll_ctl(impl_->ep.get(), EPOLL_CTL_ADD, impl_->wake.get(), &e) != 0)
    throw std::system_error(errno, std::generic_category(), "cannot start the relay loop");
  impl_->thread = std::thread([this] { impl_->run(); });
}

relay_loop::~relay_loop() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->notify();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::uint64_t relay_loop::add(owned_fd client, owned_fd server, const pg::frame_tracker& tracker,
                              std::function<void(relay_end)> done) {
  auto r = std::make_unique<relay>();
  r->id = impl_->next_id++;
  r->cfd = std::move(client);
  r->sfd = std::move(server);
  r->tracker = tracker;
  r->done = std::move(done);
  const auto id = r->id;
  impl_->push({command::kind::add, id, std::move(r), {}, false});
  return id;
}

void relay_loop::inject(std::uint64_t id, std::string bytes, bool final) {
  impl_->push({command::kind::inject, id, nullptr, std::move(bytes), final});
}

void relay_loop::close(std::uint64_t id) {
  impl_->push({command::kind::close, id, nullptr, {}, false});
}

relay_loop::batch::batch(relay_loop& loop) : loop_(loop) {
  std::lock_guard lock(loop_.impl_->mutex);
  ++loop_.impl_->held;
}

relay_loop::batch::~batch() {
  bool wake = false;
  {
    std::lock_guard lock(loop_.impl_->mutex);
    wake = --loop_.impl_->held == 0 && !loop_.impl_->queue.empty();
  }
  if (wake) loop_.impl_->notify();
}

}  // namespace apono::proxy
