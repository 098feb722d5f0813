// The one place that knows whether the grant behind a local session is still good: its end
// time, and whether the broker has ended it early (revoke). Every proxied connection, the
// built-in shell and any launched client ask it, and it wakes them all when access ends.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/time.hpp"

namespace apono::proxy {

/// Why access ended.
enum class end_cause {
  none,     ///< still active
  expired,  ///< the grant's end time passed
  revoked,  ///< the broker revoked it (or it left ACTIVE for another reason)
};

/// Thread-safe end-of-access state for one request.
class grant_watch {
 public:
  /// Watches request `request_id` (AR-xxxxx) that ends at `ends_at`, by `clock`.
  grant_watch(std::string request_id, common::time_point ends_at, const common::clock& clock);
  ~grant_watch();
  grant_watch(const grant_watch&) = delete;
  grant_watch& operator=(const grant_watch&) = delete;

  /// Ends access now for `cause`; the first call wins, later ones do nothing. Runs every
  /// on_end callback on the calling thread and makes wait_fd() readable.
  void end(end_cause cause);
  /// Registers `fn` to run once when access ends (at once if it already has).
  void on_end(std::function<void()> fn);
  /// The cause, or end_cause::none while access lasts.
  [[nodiscard]] end_cause cause() const;
  /// True once end() ran.
  [[nodiscard]] bool ended() const { return cause() != end_cause::none; }
  /// A descriptor that becomes readable when access ends (for poll() loops).
  [[nodiscard]] int wait_fd() const { return fds_[0]; }

  /// The request id.
  [[nodiscard]] const std::string& request_id() const { return request_id_; }
  /// The grant end.
  [[nodiscard]] common::time_point ends_at() const { return ends_at_; }
  /// Time until the end by the watch's clock (zero or negative once past).
  [[nodiscard]] std::chrono::milliseconds time_left() const;
  /// The clock.
  [[nodiscard]] const common::clock& clock() const { return clock_; }

  /// The clear one-line message shown when access ends, e.g. "access AR-00012 ended at
  /// 14:05:00 (the grant expired); request it again: apono requests again AR-00012".
  [[nodiscard]] std::string message() const;
  /// A notice for `left` remaining, e.g. "access AR-00012 ends in 5 minutes, at 14:05:00".
  [[nodiscard]] std::string warning(std::chrono::milliseconds left) const;

 private:
  std::string request_id_;
  common::time_point ends_at_;
  const common::clock& clock_;
  mutable std::mutex mutex_;
  end_cause cause_ = end_cause::none;
  common::time_point ended_at_{};  // set by end(): the grant end, or the revoke's moment
  std::vector<std::function<void()>> callbacks_;
  int fds_[2] = {-1, -1};
};

/// The time left formatted for prompts and notices: "4m59s", "59s", "1h02m".
[[nodiscard]] std::string format_time_left(std::chrono::milliseconds left);

}  // namespace apono::proxy
