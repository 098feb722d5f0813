// The steady-state relay for plain sessions (no TLS on either hop): one thread per proxy, one
// level-triggered epoll set, taking over a session's two descriptors once it is logged in. A
// socket is read only after epoll said it is readable, and a short read means it is drained,
// so no read fails with EAGAIN; what a full socket will not take waits with EPOLLOUT while the
// other side is not read. Costs what a minimal epoll relay costs per round trip, where Asio's
// edge-triggered reactor pays a failed speculative read per message.
#pragma once

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "proxy/pg/frame_tracker.hpp"

namespace apono::proxy {

/// A descriptor that closes itself; move-only.
class owned_fd {
 public:
  owned_fd() = default;
  /// Takes ownership of `fd` (-1 for none).
  explicit owned_fd(int fd) : fd_(fd) {}
  owned_fd(owned_fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  owned_fd& operator=(owned_fd&& o) noexcept;
  owned_fd(const owned_fd&) = delete;
  owned_fd& operator=(const owned_fd&) = delete;
  ~owned_fd() { reset(); }
  /// The descriptor, -1 when none.
  [[nodiscard]] int get() const { return fd_; }
  /// Gives the descriptor up without closing it.
  int release();
  /// Closes the descriptor (shutting both directions first when `shutdown`).
  void reset(bool shutdown = false);

 private:
  int fd_ = -1;
};

/// How a relay ended; the descriptors come back to the session, still open.
struct relay_end {
  owned_fd client;          ///< the client's socket
  owned_fd server;          ///< the server's socket
  bool fatal_sent = false;  ///< the final message went out whole: the client is done with
};

/// One thread relaying plain sessions. add() and the commands come from the proxy's Asio
/// thread; each relay's end is posted back to that io_context.
class relay_loop {
 public:
  /// A loop whose ends are posted to `ioc`; starts its thread.
  explicit relay_loop(boost::asio::io_context& ioc);
  /// Stops the thread and closes the descriptors of relays still running.
  ~relay_loop();
  relay_loop(const relay_loop&) = delete;
  relay_loop& operator=(const relay_loop&) = delete;

  /// Relays between `client` and `server` from now on; `tracker` follows what the client has
  /// been sent so far. `done` runs on the io_context once the relay is over. Returns the id
  /// the commands below take.
  std::uint64_t add(owned_fd client, owned_fd server, const pg::frame_tracker& tracker,
                    std::function<void(relay_end)> done);
  /// Puts `bytes` (whole messages) before the next message of the server's the client gets.
  /// `final`: the end of access; nothing more of the client's reaches the server, nothing
  /// more of the server's reaches the client, and the relay ends once the bytes are out.
  void inject(std::uint64_t id, std::string bytes, bool final);
  /// Ends the relay now (its descriptors go back to the session).
  void close(std::uint64_t id);

  /// While one lives, the commands given reach the loop together when the last one ends: the
  /// end of access is one instant for every session, so no session still relays a query
  /// after another was cut.
  class batch {
   public:
    /// Holds `loop`'s commands back until destruction.
    explicit batch(relay_loop& loop);
    ~batch();
    batch(const batch&) = delete;
    batch& operator=(const batch&) = delete;

   private:
    relay_loop& loop_;
  };

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace apono::proxy
