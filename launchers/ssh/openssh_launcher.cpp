// Runs the user's OpenSSH client as a child process on their terminal and ends it with the
// grant. Unlike psql behind the local proxy, nothing else cuts an ssh connection at the end of
// access (an expired certificate only stops new logins): the caller's grant_clock and
// revoke_watch end the watch, and this loop stops ssh when they do.
#include "launchers/ssh/openssh_launcher.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "launchers/client_process.hpp"
#include "launchers/shell/shell.hpp"

namespace apono::launchers {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// After SIGTERM, ssh gets this long to restore the terminal and exit before SIGKILL.
constexpr auto term_grace = 500ms;

// Removes the session's key, certificate and known_hosts when the run ends, however it ends.
class written_files {
 public:
  explicit written_files(const openssh_files& f) : files_(f) {}
  ~written_files() {
    std::error_code ec;
    for (const auto* p : {&files_.private_key, &files_.certificate, &files_.known_hosts})
      fs::remove(*p, ec);
  }
  written_files(const written_files&) = delete;
  written_files& operator=(const written_files&) = delete;

 private:
  openssh_files files_;
};

// Writes `content` (newline-terminated) to `path` as a 0600 file of ours, replacing any file
// there but never following a symlink planted in its place.
void write_private(const fs::path& path, std::string content) {
  if (!content.empty() && content.back() != '\n') content += '\n';
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(errno));
  bool ok = ::fchmod(fd, 0600) == 0;
  for (std::size_t done = 0; ok && done < content.size();) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  int err = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(err));
}

void print_end(const proxy::grant_watch& watch) {
  // ssh may have left the terminal in raw mode mid-line: start a fresh line explicitly.
  std::string text = "\r\n" + watch.message() + "\n";
  std::fputs(text.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace

openssh_files openssh_file_paths(const fs::path& run_dir) {
  return {run_dir / "ssh_key", run_dir / "ssh_key-cert.pub", run_dir / "known_hosts"};
}

std::vector<std::string> openssh_argv(const openssh_options& o, const openssh_files& files) {
  if (o.host.empty()) throw std::invalid_argument("ssh: no host to log in to");
  // ssh parses options after the destination too, so one that starts with '-' would be an
  // option; "--" below protects only the command.
  if (o.host.front() == '-') throw std::invalid_argument("ssh: bad host name '" + o.host + "'");
  if (!o.user.empty() && o.user.front() == '-')
    throw std::invalid_argument("ssh: bad user name '" + o.user + "'");
  std::vector<std::string> argv{o.ssh_binary,
                                "-i",
                                files.private_key.string(),
                                "-o",
                                "CertificateFile=" + files.certificate.string(),
                                "-o",
                                "IdentitiesOnly=yes",
                                "-o",
                                "UserKnownHostsFile=" + files.known_hosts.string(),
                                "-o",
                                "GlobalKnownHostsFile=/dev/null",
                                "-o",
                                "StrictHostKeyChecking=yes",
                                "-o",
                                "AddKeysToAgent=no",
                                "-o",
                                "ControlMaster=no",
                                "-o",
                                "ControlPath=none",
                                "-p",
                                std::to_string(o.port)};
  argv.insert(argv.end(), o.extra_args.begin(), o.extra_args.end());
  argv.push_back(o.user.empty() ? o.host : o.user + "@" + o.host);
  if (!o.command.empty()) {
    argv.emplace_back("--");
    argv.insert(argv.end(), o.command.begin(), o.command.end());
  }
  return argv;
}

int run_openssh(const openssh_options& o) {
  const auto files = openssh_file_paths(o.run_dir);
  auto args = openssh_argv(o, files);
  if (o.watch && o.watch->ended()) {
    print_end(*o.watch);
    return exit_access_ended;
  }

  std::error_code ec;
  if (fs::create_directories(o.run_dir, ec)) fs::permissions(o.run_dir, fs::perms::owner_all, ec);
  written_files cleanup(files);
  write_private(files.private_key, o.private_key);
  write_private(files.certificate, o.certificate);
  write_private(files.known_hosts, o.known_hosts);

  termios saved{};
  bool tty = ::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved) == 0;
  ignore_interactive_signals guard;
  pid_t pid = spawn_client(args, "install the OpenSSH client");

  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  int status = 0;
  bool exited = false;
  for (;;) {
    const int timeout = pidfd >= 0 ? -1 : 50;  // without a pidfd (old kernels) wake to reap
    if (o.watch && o.watch->ended()) break;
    pollfd fds[2] = {{o.watch ? o.watch->wait_fd() : -1, POLLIN, 0}, {pidfd, POLLIN, 0}};
    int n = ::poll(fds, 2, timeout);
    if (n < 0 && errno != EINTR) break;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
  }
  if (pidfd >= 0) ::close(pidfd);

  bool ended = o.watch && o.watch->ended();
  if (!exited && ended) {
    ::kill(pid, SIGTERM);
    if (!wait_for(pid, status, term_grace)) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
  } else if (!exited) {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (tty) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  if (ended) {
    print_end(*o.watch);
    return exit_access_ended;
  }
  return exit_code(status);
}

}  // namespace apono::launchers
