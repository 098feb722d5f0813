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
};

/// Waits on descriptors while watching the grant and the Ctrl-C pipe.
class waiter {
 public:
  /// `watch` may be null; `interrupt_fd` becomes readable on Ctrl-C (-1 for none).
  waiter(proxy::grant_watch* watch, int interrupt_fd)
      : watch_(watch), interrupt_fd_(interrupt_fd) {}

  /// Waits until `fd` has `events` (POLLIN/POLLOUT), access ends or Ctrl-C is pressed.
  /// The end of access wins over the other two; a Ctrl-C is consumed.
  [[nodiscard]] wake wait(int fd, short events, int timeout_ms = -1) const;
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
