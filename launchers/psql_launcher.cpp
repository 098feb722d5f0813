// Runs psql as a child process and ends it with the grant. The proxy has already sent the
// FATAL by then; psql shows it if it was reading, and an idle psql is stopped after a grace.
#include "launchers/psql_launcher.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "launchers/client_process.hpp"
#include "launchers/shell/shell.hpp"
#include "launchers/shell/waiter.hpp"

namespace apono::launchers {

namespace {

using namespace std::chrono_literals;

// psql gets this long after the cut to print the server's FATAL and exit on its own.
constexpr auto exit_grace = 300ms;
// A revoke made through another broker replica terminates the grant's backends at the target
// at once, while this replica's event reaches the watch a moment later: a psql that failed
// before the watch heard may have been cut by the end of access, and waits this long to know.
constexpr auto end_grace = 1s;

}  // namespace

int run_psql(const psql_options& o) {
  std::vector<std::string> args{
      o.psql, "-h",   o.socket_dir, "-p",      std::to_string(o.socket_port),
      "-U",   o.user, "-d",         o.database};
  if (!o.command.empty()) args.insert(args.end(), {"-c", o.command});
  if (!o.file.empty()) args.insert(args.end(), {"-f", o.file});

  termios saved{};
  bool tty = ::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved) == 0;
  ignore_interactive_signals guard;
  pid_t pid = spawn_client(args, "install psql, or use --client builtin");

  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  int status = 0;
  bool exited = false;
  while (!exited) {
    pollfd fds[2] = {{o.watch ? o.watch->wait_fd() : -1, POLLIN, 0}, {pidfd, POLLIN, 0}};
    // Without a pidfd (old kernels) the loop wakes every 50 ms to reap.
    int n = ::poll(fds, 2, pidfd >= 0 ? -1 : 50);
    if (n < 0 && errno != EINTR) break;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    if (o.watch && o.watch->ended()) break;
  }
  if (pidfd >= 0) ::close(pidfd);

  bool ended = o.watch && o.watch->ended();
  if (exited && !ended && o.watch && exit_code(status) != 0)
    ended = shell::waiter(o.watch, -1).access_ended(end_grace);
  if (!exited && ended) {
    if (!wait_for(pid, status, exit_grace)) {
      ::kill(pid, SIGTERM);
      if (!wait_for(pid, status, 1s)) {
        ::kill(pid, SIGKILL);
        wait_for(pid, status, 1s);
      }
    }
  } else if (!exited) {
    wait_for(pid, status, std::chrono::hours(24 * 365));
  }
  if (tty) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  if (ended) {
    std::fprintf(stderr, "\n%s\n", o.watch->message().c_str());
    return exit_access_ended;
  }
  return exit_code(status);
}

}  // namespace apono::launchers
