// The one place the shell blocks: poll() on a descriptor together with the end of access and
// Ctrl-C, so that neither the prompt nor a running query can outlive the grant.
#pragma once

#include <chrono>

#include "proxy/grant_watch.hpp"

namespace apono::launchers::shell {

/// Why a wait returned.
enum class wake {
  ready,         ///< the descriptor is ready (or failed: the caller's next call reports it)
  access_ended,  ///< the grant ended
  interrupted,   ///< Ctrl-C
  timeout,       ///< the timeout passed
  side_ready,    ///< the side descriptor is readable (the server spoke while the shell idles)
};

/// Waits on descriptors while watching the grant and the Ctrl-C pipe.
class waiter {
 public:
  /// `watch` may be null; `interrupt_fd` becomes readable on Ctrl-C (-1 for none).
  waiter(proxy::grant_watch* watch, int interrupt_fd)
      : watch_(watch), interrupt_fd_(interrupt_fd) {}

  /// Waits until `fd` has `events` (POLLIN/POLLOUT), access ends or Ctrl-C is pressed, or
  /// `side_fd` (when not -1) is readable. The end of access wins over the others, Ctrl-C over
  /// `side_fd`, and `fd` over `side_fd`; a Ctrl-C is consumed.
  [[nodiscard]] wake wait(int fd, short events, int timeout_ms = -1, int side_fd = -1) const;
  /// True once access has ended; waits up to `grace` for it, for callers that saw the
  /// connection drop and must tell a revoked grant from a failed server.
  [[nodiscard]] bool access_ended(std::chrono::milliseconds grace = {}) const;
  /// The grant, or null.
  [[nodiscard]] proxy::grant_watch* watch() const { return watch_; }

 private:
  proxy::grant_watch* watch_;
  int interrupt_fd_;
};

}  // namespace apono::launchers::shell
