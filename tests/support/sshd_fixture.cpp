// A throwaway OpenSSH server for integration tests. Layout of the temp dir (0711, so that sshd
// can read a principals file as the login it belongs to):
//   sshd_config        the whole config (the system one is never read)
//   host_key(.pub)     the Ed25519 host key
//   trusted_ca.pub     TrustedUserCAKeys
//   principals/LOGIN   AuthorizedPrincipalsFile, one per login
//   revoked_keys       RevokedKeys (plain public keys or a KRL)
//   sshd.log           sshd's log (-E), sshd.out its stdout/stderr
//   sshd.pid           the listener's pid (PidFile)
//   fixture.info       owner pid, so that a later fixture can stop a server whose test process
//                      was killed and never ran the destructor
// Every session gets APONO_SSHD_FIXTURE=DIR in its environment (SetEnv): that is how the
// destructor finds commands that sshd has already let go of.
#include "tests/support/sshd_fixture.hpp"

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace apono::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string sshd_binary() {
  // sshd re-executes itself per connection, so it insists on an absolute path.
  const char* path = std::getenv("APONO_SSHD");
  return (path != nullptr && *path != '\0') ? path : "/usr/sbin/sshd";
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& content, fs::perms mode) {
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
    if (!content.empty() && content.back() != '\n') out << '\n';
    if (!out) throw std::runtime_error("sshd_fixture: cannot write " + p.string());
  }
  fs::permissions(p, mode);
}

/// A path as an sshd_config argument (double-quoted: the temp dir may hold spaces).
std::string conf_path(const fs::path& p) {
  return "\"" + p.string() + "\"";
}

/// The environment entry sshd gives every session of the fixture in `dir` (SetEnv).
std::string session_marker(const fs::path& dir) {
  return "APONO_SSHD_FIXTURE=" + dir.string();
}

/// Every process in /proc: pid -> parent pid.
std::map<pid_t, pid_t> parents() {
  std::map<pid_t, pid_t> out;
  std::error_code ec;
  fs::directory_iterator it("/proc", ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(),
                                     [](unsigned char c) { return std::isdigit(c) != 0; }))
      continue;
    // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses; parse after the last ')'.
    const std::string stat = read_all(it->path() / "stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    char state = 0;
    long ppid = 0;
    if (rest >> state >> ppid) out[static_cast<pid_t>(std::stol(name))] = static_cast<pid_t>(ppid);
  }
  return out;
}

/// True when `pid`'s environment holds exactly `entry`.
bool has_env(pid_t pid, const std::string& entry) {
  std::string env{'\0'};
  env += read_all("/proc/" + std::to_string(pid) + "/environ");  // NUL-terminated entries
  return env.find('\0' + entry + '\0') != std::string::npos;
}

/// SIGKILLs `listener` (0: none) and every process carrying `marker` in its environment,
/// with all their descendants. sshd starts a new session for every connection and another for
/// every command, and a command without a terminal outlives its connection (reparented to
/// init), so neither a process group nor the listener's tree holds them all. Each process is
/// stopped as it is found (a stopped process neither forks nor exits and orphans its children)
/// and all are killed at the end. Never throws.
void kill_fixture_processes(pid_t listener, const std::string& marker) noexcept {
  try {
    std::set<pid_t> doomed;
    auto stop = [&](pid_t p) {
      if (!doomed.insert(p).second) return false;
      ::kill(p, SIGSTOP);
      return true;
    };
    if (listener > 0) stop(listener);
    for (const auto& [pid, ppid] : parents())
      if (pid != ::getpid() && has_env(pid, marker)) stop(pid);
    for (bool grew = true; grew;) {
      grew = false;
      for (const auto& [pid, ppid] : parents())
        if (doomed.contains(ppid) && stop(pid)) grew = true;
    }
    for (pid_t p : doomed) ::kill(p, SIGKILL);
  } catch (...) {
    if (listener > 0) ::kill(listener, SIGKILL);
  }
}

/// Stops and deletes fixtures whose test process died without running the destructor; each
/// would otherwise keep an sshd listening until reboot. Never throws.
void sweep_orphans(const fs::path& tmp) noexcept {
  try {
    for (const auto& entry : fs::directory_iterator(tmp)) {
      if (!entry.path().filename().string().starts_with("apono-sshd-")) continue;
      std::ifstream info(entry.path() / "fixture.info");
      std::string line;
      long owner = 0;
      while (std::getline(info, line))
        if (line.starts_with("owner_pid=")) owner = std::strtol(line.c_str() + 10, nullptr, 10);
      if (owner <= 0 || ::kill(static_cast<pid_t>(owner), 0) == 0 || errno != ESRCH) continue;
      long pid = std::strtol(read_all(entry.path() / "sshd.pid").c_str(), nullptr, 10);
      // Only a process started with this dir's config: the pid may have been reused since.
      const auto cmdline = read_all("/proc/" + std::to_string(pid) + "/cmdline");
      if (cmdline.find(entry.path().string()) == std::string::npos) pid = 0;
      kill_fixture_processes(static_cast<pid_t>(pid), session_marker(entry.path()));
      std::error_code ec;
      fs::remove_all(entry.path(), ec);
    }
  } catch (...) {
    // A sweep is a courtesy; an unreadable tmp dir must not fail the test that triggered it.
  }
}

/// sshd's privilege separation directory, which a running system's sshd would have made.
void ensure_privsep_dir() {
  if (::geteuid() != 0) return;  // unprivileged sshd neither chroots nor needs it
  if (::mkdir("/run/sshd", 0755) == 0) {
    ::chmod("/run/sshd", 0755);  // whatever the umask
  } else if (errno != EEXIST) {
    throw std::runtime_error("sshd_fixture: cannot create /run/sshd");
  }
}

std::string config_text(const fs::path& dir, int port) {
  std::ostringstream c;
  c << "# sshd_fixture: the only config this sshd reads\n"
    << "ListenAddress 127.0.0.1:" << port << "\n"
    << "AddressFamily inet\n"
    << "HostKey " << conf_path(dir / "host_key") << "\n"
    << "PidFile " << conf_path(dir / "sshd.pid") << "\n"
    << "UsePAM no\n"
    << "PasswordAuthentication no\n"
    << "KbdInteractiveAuthentication no\n"
    << "HostbasedAuthentication no\n"
    << "PubkeyAuthentication yes\n"
    << "AuthorizedKeysFile none\n"
    << "TrustedUserCAKeys " << conf_path(dir / "trusted_ca.pub") << "\n"
    << "AuthorizedPrincipalsFile " << conf_path(dir / "principals" / "%u") << "\n"
    << "RevokedKeys " << conf_path(dir / "revoked_keys") << "\n"
    << "PermitRootLogin prohibit-password\n"
    << "StrictModes no\n"
    << "LogLevel VERBOSE\n"
    << "PrintMotd no\n"
    << "PrintLastLog no\n"
    << "X11Forwarding no\n"
    // sftp, and scp (which speaks SFTP since OpenSSH 9.0), inside sshd's own session process.
    << "Subsystem sftp internal-sftp\n"
    << "UseDNS no\n"
    << "SetEnv \"" << session_marker(dir) << "\"\n"
    << "LoginGraceTime 30\n"
    << "MaxStartups 200\n";
  return c.str();
}

}  // namespace

sshd_fixture::sshd_fixture(options o) {
  dir_ = make_temp_dir("apono-sshd-");
  sweep_orphans(dir_.parent_path());
  try {
    {
      std::ofstream info(dir_ / "fixture.info");
      info << "owner_pid=" << ::getpid() << "\n";
    }
    // Other logins than ours must reach their principals file: sshd opens it as that user.
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    const auto principals = dir_ / "principals";
    fs::create_directory(principals);
    fs::permissions(principals, fs::perms::owner_all | fs::perms::group_read |
                                    fs::perms::group_exec | fs::perms::others_read |
                                    fs::perms::others_exec);
    const auto readable = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                          fs::perms::others_read;
    for (const auto& [login, names] : o.principals) {
      if (login.empty() || login.find('/') != std::string::npos || login[0] == '.')
        throw std::runtime_error("sshd_fixture: bad login name '" + login + "'");
      std::string text;
      for (const auto& n : names) text += n + "\n";
      write_file(principals / login, text, readable);
    }
    write_file(dir_ / "trusted_ca.pub", o.trusted_ca, readable);
    write_file(dir_ / "revoked_keys", o.revoked_keys, readable);

    auto keygen = run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f",
                       (dir_ / "host_key").string()});
    if (keygen.status != 0)
      throw std::runtime_error("sshd_fixture: ssh-keygen failed:\n" + keygen.output);
    {
      std::istringstream pub(read_all(dir_ / "host_key.pub"));
      std::string type, blob;
      pub >> type >> blob;
      host_key_ = type + " " + blob;
    }
    ensure_privsep_dir();

    const auto config = dir_ / "sshd_config";
    const auto log_file = dir_ / "sshd.log";
    for (int attempt = 0;; ++attempt) {
      port_ = free_port();
      write_file(config, config_text(dir_, port_), fs::perms::owner_read | fs::perms::owner_write);
      // A bad config fails here with sshd's own words rather than as a server that never listens.
      auto check = run({sshd_binary(), "-t", "-f", config.string()});
      if (check.status != 0)
        throw std::runtime_error("sshd_fixture: sshd -t rejected the config:\n" + check.output +
                                 "\n" + read_all(config));
      std::error_code ec;
      fs::remove(log_file, ec);
      sshd_ = std::make_unique<child_process>(
          std::vector<std::string>{sshd_binary(), "-D", "-E", log_file.string(), "-f",
                                   config.string()},
          dir_ / "sshd.out");
      // sshd logs this right after listen(), so connections are queued from then on. Waiting
      // for it rather than probing the port keeps a stray connection out of the log.
      const std::string ready = "Server listening on 127.0.0.1 port " + std::to_string(port_);
      const auto deadline = std::chrono::steady_clock::now() + 30s;
      bool listening = false;
      while (sshd_->running() && std::chrono::steady_clock::now() < deadline) {
        if (read_all(log_file).find(ready) != std::string::npos) {
          listening = true;
          break;
        }
        std::this_thread::sleep_for(10ms);
      }
      if (listening) break;
      const bool exited = !sshd_->running();
      sshd_.reset();
      const std::string out = read_all(log_file) + read_all(dir_ / "sshd.out");
      // free_port() only says the port was free a moment ago; another test may have taken it.
      if (exited && attempt < 4 && out.find("Address already in use") != std::string::npos)
        continue;
      throw std::runtime_error(std::string("sshd_fixture: sshd ") +
                               (exited ? "exited" : "did not listen within 10 s") + ":\n" + out);
    }
  } catch (...) {
    kill_fixture_processes(sshd_ ? sshd_->pid() : 0, session_marker(dir_));
    sshd_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
    throw;
  }
}

sshd_fixture::~sshd_fixture() {
  kill_fixture_processes(sshd_ ? sshd_->pid() : 0, session_marker(dir_));
  sshd_.reset();  // reaps the listener
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string sshd_fixture::known_hosts_line() const {
  return "[127.0.0.1]:" + std::to_string(port_) + " " + host_key_;
}

void sshd_fixture::set_trusted_ca(const std::string& keys) {
  write_file(dir_ / "trusted_ca.pub", keys,
             fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                 fs::perms::others_read);
}

fs::path sshd_fixture::revoked_keys_file() const {
  return dir_ / "revoked_keys";
}

std::string sshd_fixture::log() const {
  return read_all(dir_ / "sshd.log");
}

std::string sshd_fixture::current_user() {
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr) return pw->pw_name;
  const char* user = std::getenv("USER");
  return user != nullptr ? user : "root";
}

}  // namespace apono::test
