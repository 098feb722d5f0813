// Runs psql as a child process and ends it with the grant. The proxy has already sent the
// FATAL by then; psql shows it if it was reading, and an idle psql is stopped after a grace.
#include "launchers/psql_launcher.hpp"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
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

#include "launchers/shell/shell.hpp"

extern char** environ;

namespace apono::launchers {

namespace {

using namespace std::chrono_literals;

// psql gets this long after the cut to print the server's FATAL and exit on its own.
constexpr auto exit_grace = 300ms;

// While psql owns the terminal, Ctrl-C and Ctrl-\ are for it alone, as with system(3).
class ignore_interactive_signals {
 public:
  ignore_interactive_signals() {
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigaction(SIGINT, &ign, &old_int_);
    sigaction(SIGQUIT, &ign, &old_quit_);
  }
  ~ignore_interactive_signals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGQUIT, &old_quit_, nullptr);
  }
  ignore_interactive_signals(const ignore_interactive_signals&) = delete;
  ignore_interactive_signals& operator=(const ignore_interactive_signals&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_quit_ {};
};

// Waits up to `timeout` for `pid`; true and `status` set when it exited.
bool wait_for(pid_t pid, int& status, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    ::usleep(10000);
  }
}

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

int run_psql(const psql_options& o) {
  std::vector<std::string> args{
      o.psql, "-h",   o.socket_dir, "-p",      std::to_string(o.socket_port),
      "-U",   o.user, "-d",         o.database};
  if (!o.command.empty()) args.insert(args.end(), {"-c", o.command});
  if (!o.file.empty()) args.insert(args.end(), {"-f", o.file});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  termios saved{};
  bool tty = ::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved) == 0;
  ignore_interactive_signals guard;
  // The child starts with default dispositions, so Ctrl-C reaches psql normally.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGQUIT);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, o.psql.c_str(), nullptr, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    throw std::runtime_error("cannot run " + o.psql + ": " + std::strerror(rc) +
                             (rc == ENOENT ? " (install psql, or use --client builtin)" : ""));

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
