// The OpenSSH launcher against a real sshd (tests/support/sshd_fixture): first the fixture
// itself with a plain `ssh` (certificates, principals, validity, host keys, revocation, cleanup),
// then run_openssh: exit statuses, the files it writes, host key checking and the end of access.
#include "launchers/ssh/openssh_launcher.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/time.hpp"
#include "launchers/shell/shell.hpp"
#include "proxy/grant_clock.hpp"
#include "tests/support/process.hpp"
#include "tests/support/ready_clock.hpp"
#include "tests/support/sshd_fixture.hpp"

namespace {

using apono::launchers::openssh_options;
using apono::launchers::run_openssh;
using apono::test::sshd_fixture;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* principal = "apono-test-principal";

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_all(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}

std::string first_line(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

void keygen(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"ssh-keygen", "-q"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = apono::test::run(argv);
  INFO(r.output);
  REQUIRE(r.status == 0);
}

/// A user CA, the one the shared server trusts.
struct user_ca {
  apono::test::temp_dir dir{"apono-ssh-ca-"};
  fs::path key = dir.path / "ca";
  user_ca() { keygen({"-t", "ed25519", "-N", "", "-C", "test ca", "-f", key.string()}); }
  [[nodiscard]] std::string public_key() const { return read_all(key.string() + ".pub"); }
};

/// A fresh user key and its certificate.
struct user_key {
  fs::path key, cert;
  [[nodiscard]] std::string public_key() const { return read_all(key.string() + ".pub"); }
};

/// Makes a key in `dir` named `name` and signs it by `ca` for `principals`, valid `validity`.
user_key make_user_key(const user_ca& ca, const fs::path& dir, const std::string& name,
                       const std::string& principals, const std::string& validity = "-1m:+5m") {
  user_key k{dir / name, dir / (name + "-cert.pub")};
  keygen({"-t", "ed25519", "-N", "", "-C", name, "-f", k.key.string()});
  keygen({"-s", ca.key.string(), "-I", "test-id-" + name, "-n", principals, "-V", validity,
          (k.key.string() + ".pub")});
  return k;
}

user_ca& ca() {
  static user_ca c;
  return c;
}

sshd_fixture& server() {
  static sshd_fixture s({.trusted_ca = ca().public_key(),
                         .principals = {{sshd_fixture::current_user(), {principal, "other"}}},
                         .revoked_keys = {}});
  return s;
}

/// Plain OpenSSH, no user config, as the brief for the fixture has it.
apono::test::run_result ssh_login(const sshd_fixture& s, const user_key& k,
                                  const fs::path& known_hosts,
                                  const std::string& command = "echo hi") {
  return apono::test::run({"ssh",
                           "-F",
                           "/dev/null",
                           "-o",
                           "IdentitiesOnly=yes",
                           "-o",
                           "UserKnownHostsFile=" + known_hosts.string(),
                           "-o",
                           "StrictHostKeyChecking=yes",
                           "-o",
                           "GlobalKnownHostsFile=/dev/null",
                           "-o",
                           "BatchMode=yes",
                           "-i",
                           k.key.string(),
                           "-o",
                           "CertificateFile=" + k.cert.string(),
                           "-p",
                           std::to_string(s.port()),
                           sshd_fixture::current_user() + "@127.0.0.1",
                           command},
                          {}, {}, std::chrono::seconds{30});
}

fs::path known_hosts_file(const fs::path& dir, const std::string& line) {
  auto p = dir / "known_hosts";
  write_all(p, line + "\n");
  return p;
}

/// True while `pid` is a live (not zombie) process.
bool alive(pid_t pid) {
  std::string stat = read_all("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

/// Points stdin at /dev/null and stdout/stderr at files while it lives, as a terminal would be
/// for the user, so that run_openssh (which inherits them) can be checked.
class redirected_stdio {
 public:
  redirected_stdio(const fs::path& out, const fs::path& err) {
    std::fflush(stdout);
    std::fflush(stderr);
    const int targets[3] = {::open("/dev/null", O_RDONLY | O_CLOEXEC),
                            ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600),
                            ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
    for (int fd = 0; fd < 3; ++fd) {
      saved_[fd] = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
      ::dup2(targets[fd], fd);
      ::close(targets[fd]);
    }
  }
  ~redirected_stdio() {
    std::fflush(stdout);
    std::fflush(stderr);
    for (int fd = 0; fd < 3; ++fd) {
      ::dup2(saved_[fd], fd);
      ::close(saved_[fd]);
    }
  }
  redirected_stdio(const redirected_stdio&) = delete;
  redirected_stdio& operator=(const redirected_stdio&) = delete;

 private:
  int saved_[3] = {-1, -1, -1};
};

/// What one run_openssh call did.
struct launch_result {
  int status = -1;
  std::string out, err;
};

launch_result launch(const openssh_options& o, const fs::path& dir) {
  launch_result r;
  {
    redirected_stdio io(dir / "launch.out", dir / "launch.err");
    r.status = run_openssh(o);
  }
  r.out = read_all(dir / "launch.out");
  r.err = read_all(dir / "launch.err");
  return r;
}

/// Options for logging in to the shared server with a fresh certificate for `principal`.
openssh_options login_options(const fs::path& dir, const fs::path& run_dir) {
  auto k = make_user_key(ca(), dir, "session", principal);
  openssh_options o;
  o.run_dir = run_dir;
  o.host = "127.0.0.1";
  o.port = server().port();
  o.user = sshd_fixture::current_user();
  o.private_key = read_all(k.key);
  o.certificate = first_line(read_all(k.cert));
  o.known_hosts = server().known_hosts_line();
  return o;
}

}  // namespace

TEST_CASE("sshd_fixture: a certificate for an accepted principal logs in", "[integration]") {
  auto& s = server();
  apono::test::temp_dir dir("apono-ssh-");
  auto k = make_user_key(ca(), dir.path, "user", principal);
  auto r = ssh_login(s, k, known_hosts_file(dir.path, s.known_hosts_line()));
  INFO(r.output << "\n--- sshd log:\n" << s.log());
  CHECK(r.status == 0);
  CHECK(r.output == "hi\n");
  CHECK(s.log().find("Accepted publickey for " + sshd_fixture::current_user()) !=
        std::string::npos);
  CHECK(s.host_key().starts_with("ssh-ed25519 AAAA"));
  CHECK(s.host_key().find(' ', 12) == std::string::npos);  // no comment
  CHECK(s.known_hosts_line() == "[127.0.0.1]:" + std::to_string(s.port()) + " " + s.host_key());
}

TEST_CASE("sshd_fixture: a certificate for another principal is refused", "[integration]") {
  auto& s = server();
  apono::test::temp_dir dir("apono-ssh-");
  auto k = make_user_key(ca(), dir.path, "user", "somebody-else");
  auto r = ssh_login(s, k, known_hosts_file(dir.path, s.known_hosts_line()));
  INFO(r.output);
  CHECK(r.status == 255);
  CHECK(r.output.find("Permission denied") != std::string::npos);
  CHECK(r.output.find("hi\n") == std::string::npos);
}

TEST_CASE("sshd_fixture: an expired certificate is refused", "[integration]") {
  auto& s = server();
  apono::test::temp_dir dir("apono-ssh-");
  auto k = make_user_key(ca(), dir.path, "user", principal, "-10m:-5m");
  auto r = ssh_login(s, k, known_hosts_file(dir.path, s.known_hosts_line()));
  INFO(r.output);
  CHECK(r.status == 255);
  CHECK(r.output.find("Permission denied") != std::string::npos);
}

TEST_CASE("sshd_fixture: a certificate from another CA is refused", "[integration]") {
  auto& s = server();
  apono::test::temp_dir dir("apono-ssh-");
  user_ca rogue;
  auto k = make_user_key(rogue, dir.path, "user", principal);
  auto r = ssh_login(s, k, known_hosts_file(dir.path, s.known_hosts_line()));
  INFO(r.output);
  CHECK(r.status == 255);
  CHECK(r.output.find("Permission denied") != std::string::npos);
}

TEST_CASE("sshd_fixture: a wrong host key is refused by the client", "[integration]") {
  auto& s = server();
  apono::test::temp_dir dir("apono-ssh-");
  auto k = make_user_key(ca(), dir.path, "user", principal);
  keygen({"-t", "ed25519", "-N", "", "-f", (dir.path / "other_host").string()});
  std::istringstream other(read_all(dir.path / "other_host.pub"));
  std::string type, blob;
  other >> type >> blob;
  auto r = ssh_login(s, k,
                     known_hosts_file(dir.path, "[127.0.0.1]:" + std::to_string(s.port()) + " " +
                                                    type + " " + blob));
  INFO(r.output);
  CHECK(r.status == 255);
  CHECK(r.output.find("Host key verification failed") != std::string::npos);
}

TEST_CASE("sshd_fixture: a key in the RevokedKeys file is refused", "[integration]") {
  auto& s = server();
  apono::test::temp_dir dir("apono-ssh-");
  auto k = make_user_key(ca(), dir.path, "user", principal);
  const auto kh = known_hosts_file(dir.path, s.known_hosts_line());
  REQUIRE(ssh_login(s, k, kh).status == 0);
  write_all(s.revoked_keys_file(), k.public_key());
  auto r = ssh_login(s, k, kh);
  write_all(s.revoked_keys_file(), "");
  INFO(r.output << "\n--- sshd log:\n" << s.log());
  CHECK(r.status == 255);
  CHECK(r.output.find("Permission denied") != std::string::npos);
  CHECK(s.log().find("revoked") != std::string::npos);
}

TEST_CASE("sshd_fixture: the destructor ends every session process", "[integration]") {
  apono::test::temp_dir dir("apono-ssh-");
  auto k = make_user_key(ca(), dir.path, "user", principal);
  auto s = std::make_unique<sshd_fixture>(
      sshd_fixture::options{.trusted_ca = ca().public_key(),
                            .principals = {{sshd_fixture::current_user(), {principal}}},
                            .revoked_keys = {}});
  const auto kh = known_hosts_file(dir.path, s->known_hosts_line());
  const auto port = s->port();
  // Starts `sleep 300` over ssh; returns the client and the remote process id.
  auto start_sleep = [&](const std::string& name) {
    const auto pid_file = dir.path / (name + ".pid");
    auto client = std::make_unique<apono::test::child_process>(
        std::vector<std::string>{
            "ssh",
            "-F",
            "/dev/null",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "UserKnownHostsFile=" + kh.string(),
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-i",
            k.key.string(),
            "-o",
            "CertificateFile=" + k.cert.string(),
            "-p",
            std::to_string(port),
            sshd_fixture::current_user() + "@127.0.0.1",
            "echo $$ > " + apono::test::quote(pid_file.string()) + "; exec sleep 300"},
        dir.path / (name + ".log"));
    pid_t remote = 0;
    for (auto until = std::chrono::steady_clock::now() + 10s;
         remote == 0 && std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(20ms))
      remote = static_cast<pid_t>(std::atol(read_all(pid_file).c_str()));
    INFO(read_all(dir.path / (name + ".log")) << "\n--- sshd log:\n" << s->log());
    REQUIRE(remote > 0);
    REQUIRE(alive(remote));
    return std::make_pair(std::move(client), remote);
  };
  auto [connected, in_session] = start_sleep("connected");
  // A command without a terminal outlives its connection: sshd lets it go to init.
  auto [gone, orphan] = start_sleep("gone");
  gone->signal(SIGKILL);
  REQUIRE(gone->wait(5s) == 128 + SIGKILL);
  std::this_thread::sleep_for(300ms);
  REQUIRE(alive(orphan));

  s.reset();
  // Killed processes are reaped by whoever inherits them; give that a moment.
  for (auto until = std::chrono::steady_clock::now() + 2s;
       (alive(in_session) || alive(orphan)) && std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(10ms)) {
  }
  CHECK_FALSE(alive(in_session));
  CHECK_FALSE(alive(orphan));
  CHECK(connected->wait(5s) == 255);  // the connection was cut
  CHECK(apono::test::run({"ssh-keyscan", "-p", std::to_string(port), "-T", "2", "127.0.0.1"})
            .output.find("ssh-ed25519") == std::string::npos);
}

TEST_CASE("openssh_argv: the session's identity and host keys only", "[integration]") {
  openssh_options o;
  o.run_dir = "/run/apono/x";
  o.host = "db.example.com";
  o.port = 2222;
  o.user = "alice";
  o.command = {"-x", "ls"};
  o.extra_args = {"-t"};
  auto f = apono::launchers::openssh_file_paths(o.run_dir);
  CHECK(f.private_key == "/run/apono/x/ssh_key");
  CHECK(f.certificate == "/run/apono/x/ssh_key-cert.pub");
  CHECK(f.known_hosts == "/run/apono/x/known_hosts");
  CHECK(apono::launchers::openssh_argv(o, f) ==
        std::vector<std::string>{"ssh",
                                 "-i",
                                 "/run/apono/x/ssh_key",
                                 "-o",
                                 "CertificateFile=/run/apono/x/ssh_key-cert.pub",
                                 "-o",
                                 "IdentitiesOnly=yes",
                                 "-o",
                                 "UserKnownHostsFile=/run/apono/x/known_hosts",
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
                                 "2222",
                                 "-t",
                                 "alice@db.example.com",
                                 "--",
                                 "-x",
                                 "ls"});
  o.command.clear();
  o.user.clear();
  CHECK(apono::launchers::openssh_argv(o, f).back() == "db.example.com");
  o.host = "-oProxyCommand=x";
  CHECK_THROWS_AS(apono::launchers::openssh_argv(o, f), std::invalid_argument);
  o.host = "h";
  o.user = "-oProxyCommand=x";
  CHECK_THROWS_AS(apono::launchers::openssh_argv(o, f), std::invalid_argument);
}

TEST_CASE("run_openssh: runs the command and returns its status", "[integration]") {
  apono::test::temp_dir dir("apono-ssh-");
  auto o = login_options(dir.path, dir.path / "run");
  o.command = {"echo hi; exit 7"};
  auto r = launch(o, dir.path);
  INFO(r.err << "\n--- sshd log:\n" << server().log());
  CHECK(r.status == 7);
  CHECK(r.out == "hi\n");
  // The key, certificate and known_hosts are gone again; the run dir was made private.
  CHECK(fs::is_empty(dir.path / "run"));
  CHECK(fs::status(dir.path / "run").permissions() == fs::perms::owner_all);
}

TEST_CASE("run_openssh: an unknown host key means no session", "[integration]") {
  apono::test::temp_dir dir("apono-ssh-");
  auto o = login_options(dir.path, dir.path / "run");
  o.known_hosts =
      "[127.0.0.1]:" + std::to_string(o.port) +
      " ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFmdW5F1d5oNhMIJQyw1tOX2Eq5fbb3VTu8Nq7wJUvqx";
  const auto marker = dir.path / "ran";
  o.command = {"touch " + apono::test::quote(marker.string())};
  auto r = launch(o, dir.path);
  INFO(r.err);
  CHECK(r.status == 255);
  CHECK(r.err.find("Host key verification failed") != std::string::npos);
  CHECK_FALSE(fs::exists(marker));
  CHECK(fs::is_empty(dir.path / "run"));
}

TEST_CASE("run_openssh: the end of access stops the session", "[integration]") {
  apono::test::temp_dir dir("apono-ssh-");
  auto o = login_options(dir.path, dir.path / "run");
  const auto pid_file = dir.path / "remote.pid";
  o.command = {"echo $$ > " + apono::test::quote(pid_file.string()) + "; exec sleep 30"};
  // The grant's 2 s run from the moment the remote command is seen started.
  apono::test::ready_clock clock;
  apono::proxy::grant_watch watch("AR-00077", clock.now() + 2s, clock);
  apono::proxy::grant_clock deadline(watch, {}, {});  // what the CLI runs alongside
  o.watch = &watch;
  apono::test::release_when started(clock, [&] { return !read_all(pid_file).empty(); });
  auto r = launch(o, dir.path);
  const auto late = clock.now() - watch.ends_at();
  INFO(r.err << "\n--- sshd log:\n" << server().log());
  REQUIRE(clock.released());  // else the remote command never wrote its pid
  CHECK(r.status == apono::launchers::exit_access_ended);
  CHECK(watch.cause() == apono::proxy::end_cause::expired);
  CHECK(late >= 0ms);
  CHECK(late < 1s);
  CHECK(r.err.ends_with("\r\n" + watch.message() + "\n"));
  CHECK(fs::is_empty(dir.path / "run"));
  UNSCOPED_INFO("returned " << late.count() << " ms after the grant's end");
}

TEST_CASE("run_openssh: with a terminal, the cut also ends the remote command", "[integration]") {
  // What an interactive login gets: sshd hangs up the terminal when the connection goes, so the
  // remote shell ends with it. (A command without one runs on: that is OpenSSH's behaviour.)
  apono::test::temp_dir dir("apono-ssh-");
  auto o = login_options(dir.path, dir.path / "run");
  const auto pid_file = dir.path / "remote.pid";
  o.extra_args = {"-tt"};
  o.command = {"echo $$ > " + apono::test::quote(pid_file.string()) + "; exec sleep 30"};
  // The grant's 2 s run from the moment the remote command is seen started.
  apono::test::ready_clock clock;
  apono::proxy::grant_watch watch("AR-00080", clock.now() + 2s, clock);
  apono::proxy::grant_clock deadline(watch, {}, {});  // what the CLI runs alongside
  o.watch = &watch;
  apono::test::release_when started(clock, [&] { return !read_all(pid_file).empty(); });
  auto r = launch(o, dir.path);
  INFO(r.err << "\n--- sshd log:\n" << server().log());
  REQUIRE(clock.released());  // else the remote command never wrote its pid
  CHECK(r.status == apono::launchers::exit_access_ended);
  const auto remote = static_cast<pid_t>(std::atol(read_all(pid_file).c_str()));
  REQUIRE(remote > 0);
  for (auto until = std::chrono::steady_clock::now() + 2s;
       alive(remote) && std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(10ms)) {
  }
  CHECK_FALSE(alive(remote));
}

TEST_CASE("run_openssh: a revocation stops the session at once", "[integration]") {
  apono::test::temp_dir dir("apono-ssh-");
  auto o = login_options(dir.path, dir.path / "run");
  const auto pid_file = dir.path / "remote.pid";
  o.command = {"echo $$ > " + apono::test::quote(pid_file.string()) + "; exec sleep 30"};
  apono::common::system_clock clock;
  apono::proxy::grant_watch watch("AR-00078", clock.now() + 1h, clock);
  o.watch = &watch;
  // Revoked once the remote command is seen started; the session must end within 1 s of that.
  std::chrono::steady_clock::time_point revoked_at{};
  std::jthread revoker([&](std::stop_token stop) {
    while (!stop.stop_requested() && read_all(pid_file).empty()) std::this_thread::sleep_for(10ms);
    if (stop.stop_requested()) return;
    revoked_at = std::chrono::steady_clock::now();
    watch.end(apono::proxy::end_cause::revoked);
  });
  auto r = launch(o, dir.path);
  const auto returned = std::chrono::steady_clock::now();
  revoker.request_stop();
  revoker.join();
  INFO(r.err << "\n--- sshd log:\n" << server().log());
  REQUIRE(revoked_at != std::chrono::steady_clock::time_point{});  // the command never started
  CHECK(r.status == apono::launchers::exit_access_ended);
  CHECK(returned - revoked_at < 1s);
  CHECK(r.err.ends_with("\r\n" + watch.message() + "\n"));
  CHECK(r.err.find(" (it was revoked); request it again: apono requests again AR-00078\n") !=
        std::string::npos);
}

TEST_CASE("run_openssh: access that already ended starts nothing", "[integration]") {
  apono::test::temp_dir dir("apono-ssh-");
  auto o = login_options(dir.path, dir.path / "run");
  const auto marker = dir.path / "ran";
  o.command = {"touch " + apono::test::quote(marker.string())};
  apono::common::system_clock clock;
  apono::proxy::grant_watch watch("AR-00079", clock.now() - 1s, clock);
  watch.end(apono::proxy::end_cause::expired);
  o.watch = &watch;
  auto r = launch(o, dir.path);
  CHECK(r.status == apono::launchers::exit_access_ended);
  CHECK(watch.cause() == apono::proxy::end_cause::expired);
  CHECK(r.err == "\r\n" + watch.message() + "\n");
  CHECK_FALSE(fs::exists(marker));
  CHECK_FALSE(fs::exists(dir.path / "run" / "ssh_key"));
}
