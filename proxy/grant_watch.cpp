// End-of-access state shared by proxied connections, the shell and launched clients.
#include "proxy/grant_watch.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>

#include <fmt/format.h>

namespace apono::proxy {

namespace {

// Local wall-clock time of day: the user reads the message on their own machine.
std::string local_clock_time(common::time_point t) {
  auto secs = std::chrono::system_clock::to_time_t(std::chrono::system_clock::time_point(t));
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

}  // namespace

grant_watch::grant_watch(std::string request_id, common::time_point ends_at,
                         const common::clock& clock)
    : request_id_(std::move(request_id)), ends_at_(ends_at), clock_(clock) {
  // A pipe rather than an eventfd: the read end is what poll() loops in the shell and the
  // launchers wait on, and it stays readable for every one of them once written.
  if (::pipe2(fds_, O_CLOEXEC | O_NONBLOCK) != 0) fds_[0] = fds_[1] = -1;
}

grant_watch::~grant_watch() {
  for (int fd : fds_)
    if (fd >= 0) ::close(fd);
}

void grant_watch::end(end_cause cause) {
  std::vector<std::function<void()>> run;
  {
    std::lock_guard lock(mutex_);
    if (cause_ != end_cause::none || cause == end_cause::none) return;
    cause_ = cause;
    // Stamped once, so every message about this end names the same time.
    auto now = clock_.now();
    ended_at_ = cause == end_cause::revoked && now < ends_at_ ? now : ends_at_;
    run.swap(callbacks_);
  }
  if (fds_[1] >= 0) {
    char c = 'x';
    [[maybe_unused]] auto n = ::write(fds_[1], &c, 1);
  }
  for (auto& fn : run) fn();
}

void grant_watch::on_end(std::function<void()> fn) {
  {
    std::lock_guard lock(mutex_);
    if (cause_ == end_cause::none) {
      callbacks_.push_back(std::move(fn));
      return;
    }
  }
  fn();
}

end_cause grant_watch::cause() const {
  std::lock_guard lock(mutex_);
  return cause_;
}

std::chrono::milliseconds grant_watch::time_left() const {
  return ends_at_ - clock_.now();
}

std::string grant_watch::message() const {
  end_cause c;
  common::time_point at;
  {
    std::lock_guard lock(mutex_);
    c = cause_;
    at = c == end_cause::none ? ends_at_ : ended_at_;
  }
  const char* why = c == end_cause::revoked ? "it was revoked" : "the grant expired";
  return fmt::format("access {} ended at {} ({}); request it again: apono requests again {}",
                     request_id_, local_clock_time(at), why, request_id_);
}

std::string grant_watch::warning(std::chrono::milliseconds left) const {
  using namespace std::chrono;
  auto s = duration_cast<seconds>(left).count();
  auto in = s % 60 == 0 ? fmt::format("{} minute{}", s / 60, s == 60 ? "" : "s")
                        : fmt::format("{} second{}", s, s == 1 ? "" : "s");
  return fmt::format(
      "access {} ends in {}, at {}; to keep working, request it again: apono "
      "requests again {}",
      request_id_, in, local_clock_time(ends_at_), request_id_);
}

std::string format_time_left(std::chrono::milliseconds left) {
  using namespace std::chrono;
  auto s = duration_cast<seconds>(left + 999ms).count();  // round up: "0s" only at the end
  if (s <= 0) return "0s";
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

}  // namespace apono::proxy
