// Process helpers for tests. Children are started with fork+exec; everything the child needs is
// prepared before fork, because a forked child of a threaded process may only make
// async-signal-safe calls until it execs.
#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <thread>

extern char** environ;

namespace apono::test {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

/// Owns one file descriptor.
class unique_fd {
 public:
  explicit unique_fd(int fd = -1) : fd_(fd) {}
  ~unique_fd() { reset(); }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  [[nodiscard]] int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

/// Both ends of a pipe, close-on-exec so that children started concurrently by other threads
/// do not inherit them (a stray write end would keep our reader from ever seeing EOF).
struct pipe_pair {
  unique_fd read, write;
};

pipe_pair make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
  return {unique_fd{fds[0]}, unique_fd{fds[1]}};
}

void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) throw_errno("fcntl");
}

/// argv and envp as exec wants them, built in the parent.
class exec_args {
 public:
  exec_args(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
    if (argv.empty()) throw std::invalid_argument("empty argv");
    args_ = argv;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string_view entry{*e};
      auto eq = entry.find('=');
      if (eq != std::string_view::npos && env.contains(std::string{entry.substr(0, eq)})) continue;
      vars_.emplace_back(entry);
    }
    for (const auto& [key, value] : env) vars_.push_back(key + "=" + value);
    for (auto& a : args_) argv_.push_back(a.data());
    argv_.push_back(nullptr);
    for (auto& v : vars_) envp_.push_back(v.data());
    envp_.push_back(nullptr);
  }

  /// In the forked child: restores default signal handling and execs; never returns. On
  /// failure, writes errno to `report_fd` (if any) and a line to stderr, then exits 127.
  [[noreturn]] void exec(int report_fd = -1) const {
    // Ignored signals and the blocked mask survive exec; the child should start clean.
    ::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execvpe(argv_[0], argv_.data(), envp_.data());
    int err = errno;
    if (report_fd >= 0) {
      [[maybe_unused]] auto r = ::write(report_fd, &err, sizeof err);
    }
    static constexpr char msg[] = "exec failed: ";
    [[maybe_unused]] auto r1 = ::write(2, msg, sizeof msg - 1);
    [[maybe_unused]] auto r2 = ::write(2, argv_[0], std::strlen(argv_[0]));
    [[maybe_unused]] auto r3 = ::write(2, "\n", 1);
    ::_exit(127);
  }

  [[nodiscard]] const std::string& program() const { return args_.front(); }

 private:
  std::vector<std::string> args_, vars_;
  std::vector<char*> argv_, envp_;
};

int decode_status(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return -1;
}

void reap(pid_t pid, int* wstatus) {
  while (::waitpid(pid, wstatus, 0) < 0 && errno == EINTR) {
  }
}

/// write() that reports EPIPE instead of raising SIGPIPE, without touching the process-wide
/// disposition (the same trick libpq uses): block it in this thread and swallow the one we
/// caused.
ssize_t write_without_sigpipe(int fd, const char* data, std::size_t n) {
  sigset_t pipe_set, old_mask, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigemptyset(&pending);
  ::sigpending(&pending);
  bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
  ssize_t written = ::write(fd, data, n);
  int saved = errno;
  if (written < 0 && saved == EPIPE && !was_pending) {
    timespec zero{};
    ::sigtimedwait(&pipe_set, nullptr, &zero);
  }
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  errno = saved;
  return written;
}

}  // namespace

std::filesystem::path make_temp_dir(std::string_view prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::filesystem::path base = (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
  std::string pattern = (base / (std::string{prefix} + "XXXXXX")).string();
  // mkdtemp creates the directory 0700.
  if (::mkdtemp(pattern.data()) == nullptr) throw_errno("mkdtemp " + pattern);
  return pattern;
}

int free_port() {
  unique_fd s{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.get() < 0) throw_errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) throw_errno("bind");
  socklen_t len = sizeof addr;
  if (::getsockname(s.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw_errno("getsockname");
  return ntohs(addr.sin_port);
}

run_result run(const std::vector<std::string>& argv, const std::string& input,
               const std::map<std::string, std::string>& env, std::chrono::seconds timeout) {
  exec_args args{argv, env};
  auto in = make_pipe();
  auto out = make_pipe();
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) {
    // Own process group, so a timeout kill also reaches whatever the command started.
    ::setpgid(0, 0);
    ::dup2(in.read.get(), 0);
    ::dup2(out.write.get(), 1);
    ::dup2(out.write.get(), 2);
    args.exec();
  }
  ::setpgid(pid, pid);  // also in the parent: whichever runs first wins the race
  in.read.reset();
  out.write.reset();
  set_nonblocking(out.read.get());
  if (input.empty()) {
    in.write.reset();
  } else {
    set_nonblocking(in.write.get());
  }

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  run_result result;
  std::size_t fed = 0;
  bool timed_out = false;
  char buf[65536];
  while (out.read.get() >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2] = {{out.read.get(), POLLIN, 0}, {in.write.get(), POLLOUT, 0}};
    nfds_t nfds = in.write.get() >= 0 ? 2 : 1;
    int ready = ::poll(fds, nfds, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0) {
      if (errno == EINTR) continue;
      throw_errno("poll");
    }
    if (nfds == 2 && fds[1].revents != 0) {
      ssize_t n = write_without_sigpipe(in.write.get(), input.data() + fed, input.size() - fed);
      if (n > 0) fed += static_cast<std::size_t>(n);
      // Done, or the child stopped reading (EPIPE): either way it gets EOF from now on.
      if (fed == input.size() || (n < 0 && errno != EAGAIN && errno != EINTR)) in.write.reset();
    }
    if (fds[0].revents != 0) {
      ssize_t n = ::read(out.read.get(), buf, sizeof buf);
      if (n > 0) {
        result.output.append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        out.read.reset();
      }
    }
  }

  // Output is closed; the process may still be finishing (or holding on without its stdout).
  int wstatus = 0;
  while (!timed_out) {
    pid_t r = ::waitpid(pid, &wstatus, WNOHANG);
    if (r == pid) {
      result.status = decode_status(wstatus);
      return result;
    }
    if (r < 0 && errno != EINTR) throw_errno("waitpid");
    if (std::chrono::steady_clock::now() >= deadline)
      timed_out = true;
    else
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  reap(pid, &wstatus);
  result.status = -1;
  return result;
}

child_process::child_process(const std::vector<std::string>& argv,
                             const std::filesystem::path& log_file,
                             const std::map<std::string, std::string>& env) {
  exec_args args{argv, env};
  unique_fd log{::open(log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)};
  if (log.get() < 0) throw_errno("open " + log_file.string());
  unique_fd null{::open("/dev/null", O_RDONLY | O_CLOEXEC)};
  if (null.get() < 0) throw_errno("open /dev/null");
  // Closed by a successful exec; carries errno back if exec fails, so the constructor can
  // throw instead of leaving a child that died with status 127.
  auto exec_status = make_pipe();
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid == 0) {
    // A new session makes pid the process group id, so the destructor can kill the whole tree.
    ::setsid();
    ::dup2(null.get(), 0);
    ::dup2(log.get(), 1);
    ::dup2(log.get(), 2);
    args.exec(exec_status.write.get());
  }
  exec_status.write.reset();
  int err = 0;
  ssize_t n;
  while ((n = ::read(exec_status.read.get(), &err, sizeof err)) < 0 && errno == EINTR) {
  }
  if (n == static_cast<ssize_t>(sizeof err)) {
    int ignored = 0;
    reap(pid, &ignored);
    throw std::system_error(err, std::generic_category(), "exec " + args.program());
  }
  pid_ = pid;
}

child_process::~child_process() {
  if (pid_ <= 0) return;
  // Not yet reaped, so the pid (and the group id it names) cannot have been reused.
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  int ignored = 0;
  reap(pid_, &ignored);
}

void child_process::signal(int sig) {
  ::kill(pid_, sig);
}

bool child_process::running() {
  if (status_ >= 0) return false;
  siginfo_t info{};
  // WNOWAIT leaves the zombie in place until the destructor, keeping the pid ours.
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0)
    return false;
  if (info.si_pid == 0) return true;
  status_ = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
  return false;
}

int child_process::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return status_;
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

unsigned file_mode(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw std::system_error(errno, std::generic_category(), "stat " + path.string());
  return st.st_mode & 07777;
}

bool on_path(const std::string& program) {
  return run({"sh", "-c", "command -v " + quote(program)}).status == 0;
}

bool kubectl_has_exec_v1() {
  auto r = run({"kubectl", "version", "--client", "-o", "json"});
  auto at = r.output.find("\"minor\": \"");
  if (r.status != 0 || at == std::string::npos) return false;
  return std::atoi(r.output.c_str() + at + 10) >= 22;
}

scoped_env::scoped_env(const char* name, std::optional<std::string> value) : name_(name) {
  if (const char* old = std::getenv(name)) old_ = old;
  if (value)
    ::setenv(name, value->c_str(), 1);
  else
    ::unsetenv(name);
}

scoped_env::~scoped_env() {
  if (old_)
    ::setenv(name_, old_->c_str(), 1);
  else
    ::unsetenv(name_);
}

}  // namespace apono::test
