// poll() with the grant's wait_fd and the Ctrl-C self-pipe next to the descriptor of interest.
#include "launchers/shell/waiter.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

namespace apono::launchers::shell {

wake waiter::wait(int fd, short events, int timeout_ms, int side_fd) const {
  if (access_ended()) return wake::access_ended;
  // Nothing to wait for: let the caller's next call report why.
  if (fd < 0) return wake::ready;
  const int watch_fd = watch_ != nullptr ? watch_->wait_fd() : -1;
  for (;;) {
    // poll() skips negative descriptors, so absent ones need no special case.
    pollfd fds[4] = {
        {fd, events, 0}, {watch_fd, POLLIN, 0}, {interrupt_fd_, POLLIN, 0}, {side_fd, POLLIN, 0}};
    int n = ::poll(fds, 4, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return wake::ready;
    }
    if (n == 0) return wake::timeout;
    if (fds[1].revents != 0) return wake::access_ended;
    if (fds[2].revents != 0) {
      char buf[64];
      while (::read(interrupt_fd_, buf, sizeof buf) > 0) {
      }
      return wake::interrupted;
    }
    if (fds[0].revents == 0 && fds[3].revents != 0) return wake::side_ready;
    return wake::ready;
  }
}

bool waiter::access_ended(std::chrono::milliseconds grace) const {
  if (watch_ == nullptr) return false;
  if (watch_->ended()) return true;
  if (grace.count() <= 0) return false;
  pollfd fd{watch_->wait_fd(), POLLIN, 0};
  int n;
  do {
    n = ::poll(&fd, 1, static_cast<int>(grace.count()));
  } while (n < 0 && errno == EINTR);
  return watch_->ended();
}

}  // namespace apono::launchers::shell
