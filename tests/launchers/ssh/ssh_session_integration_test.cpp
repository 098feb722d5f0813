// The built-in SSH client against a real OpenSSH sshd on loopback, with user certificates made
// by the real ssh-keygen: a shell in a terminal (tmux) with a PTY that follows the window, one
// command with separate stdout and stderr, the end of access within 1 s, and clear refusals
// for a wrong host key and a certificate for another principal.
#include "launchers/ssh/ssh_session.hpp"

#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <regex>
#include <sstream>
#include <thread>

#include "common/time.hpp"
#include "launchers/shell/shell.hpp"
#include "launchers/ssh/ssh_keys.hpp"
#include "tests/support/endings.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sshd_fixture.hpp"
#include "tests/support/tmux_pane.hpp"

namespace {

using apono::launchers::exit_access_ended;
using apono::test::quote;
using apono::test::run;
using apono::test::sshd_fixture;
using apono::test::temp_dir;
using apono::test::tmux_pane;
using apono::test::wait_until;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// The principal the server maps to the test login, as the broker's CA would sign it.
const std::string principal = "apono-test-user";

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
}

// Makes an Ed25519 key pair with ssh-keygen at `path` and returns the public key line.
std::string keygen(const fs::path& path) {
  auto r = run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path.string()});
  INFO(r.output);
  REQUIRE(r.status == 0);
  return read_all(path.string() + ".pub");
}

// "SHA256:..." of a public key line, by ssh-keygen -l.
std::string fingerprint(const fs::path& dir, const std::string& public_key) {
  const auto file = dir / "fingerprint.pub";
  write_file(file, public_key + "\n");
  auto r = run({"ssh-keygen", "-l", "-f", file.string()});
  REQUIRE(r.status == 0);
  std::istringstream in(r.output);
  std::string bits, fp;
  in >> bits >> fp;
  return fp;
}

// One CA, one sshd that trusts it for the test login, and the test's certificates.
struct ssh_server {
  temp_dir dir{"apono-sshsession-"};
  std::string user = sshd_fixture::current_user();
  std::string ca_public = keygen(dir.path / "ca");
  sshd_fixture sshd{{ca_public, {{user, {principal}}}, ""}};

  // Signs `public_key` with `ca` (a key file) for `name`, valid from a minute ago for 10 min.
  [[nodiscard]] std::string sign(const std::string& public_key, const std::string& name,
                                 const fs::path& ca) const {
    temp_dir work("apono-sshcert-");
    const auto pub = work.path / "session.pub";
    write_file(pub, public_key + "\n");
    auto r = run({"ssh-keygen", "-q", "-s", ca.string(), "-I", "apono-test", "-n", name, "-V",
                  "-1m:+10m", pub.string()});
    INFO(r.output);
    REQUIRE(r.status == 0);
    return read_all(work.path / "session-cert.pub");
  }
  [[nodiscard]] std::string sign(const std::string& public_key,
                                 const std::string& name = principal) const {
    return sign(public_key, name, dir.path / "ca");
  }
};

ssh_server& server() {
  static ssh_server s;
  return s;
}

// The files the driver reads, for one session key and certificate.
struct session_files {
  temp_dir dir{"apono-sshfiles-"};
  apono::launchers::ssh_keypair keys = apono::launchers::generate_ssh_keypair("apono-test");
  fs::path key = dir.path / "key";
  fs::path cert = dir.path / "key-cert.pub";
  fs::path known_hosts = dir.path / "known_hosts";

  explicit session_files(const ssh_server& s, const std::string& name = principal) {
    write_file(key, keys.private_key);
    write_file(cert, s.sign(keys.public_key, name));
    write_file(known_hosts, s.sshd.known_hosts_line() + "\n");
  }

  // The driver's arguments up to the options.
  [[nodiscard]] std::vector<std::string> args(const ssh_server& s) const {
    return {SSH_SESSION_DRIVER, "127.0.0.1",   std::to_string(s.sshd.port()), s.user,
            key.string(),       cert.string(), known_hosts.string()};
  }
  // The same as one shell-quoted command line.
  [[nodiscard]] std::string command_line(const ssh_server& s,
                                         const std::vector<std::string>& more = {}) const {
    std::string line;
    for (const auto& a : args(s)) line += (line.empty() ? "" : " ") + quote(a);
    for (const auto& a : more) line += " " + quote(a);
    return line;
  }
};

struct captured {
  int status = -1;
  std::string out;
  std::string err;
};

// Runs the driver with stdin from `input` and stdout and stderr in separate files.
captured run_driver(const session_files& f, const std::vector<std::string>& more,
                    const std::string& input = "/dev/null") {
  const auto out = f.dir.path / "driver.out";
  const auto err = f.dir.path / "driver.err";
  auto r = run({"sh", "-c",
                "exec " + f.command_line(server(), more) + " <" + quote(input) + " >" +
                    quote(out.string()) + " 2>" + quote(err.string())});
  return {r.status, read_all(out), read_all(err)};
}

// Milliseconds since the Unix epoch, `d` from now.
std::string unix_ms_in(std::chrono::milliseconds d) {
  apono::common::system_clock clock;
  return std::to_string(apono::common::to_unix_ms(clock.now() + d));
}

// The local terminal is back in cooked mode: `stty -a`, run in the pane after the driver,
// shows it (its last line ends with "extproc").
void check_cooked(tmux_pane& pane) {
  const auto screen = pane.wait_for("extproc");
  const auto at = screen.find("EXIT=");
  REQUIRE(at != std::string::npos);
  const std::string after = screen.substr(at);
  INFO(after);
  for (const char* flag : {"icanon", "echo", "isig", "icrnl", "opost", "iexten"})
    CHECK(std::regex_search(after, std::regex(std::string("(^|\\s)") + flag + "(\\s|$)")));
}

}  // namespace

TEST_CASE("ssh: a shell in a terminal: PTY, TERM, window size and its changes, raw mode undone",
          "[integration]") {
  auto& s = server();
  session_files f(s);
  tmux_pane pane;
  pane.start("env TERM=xterm-256color " + f.command_line(s) + "; echo EXIT=$?; stty -a; sleep 60");
  pane.send("echo READY", true);
  pane.send("Enter");
  pane.wait_for("\nREADY");
  pane.send("echo $((6*7))", true);
  pane.send("Enter");
  pane.wait_for("\n42\n");
  pane.send("tty; echo TERM=$TERM; stty size", true);
  pane.send("Enter");
  auto screen = pane.wait_for("\n40 120\n");
  CHECK(std::regex_search(screen, std::regex("\n/dev/pts/[0-9]+\n")));
  CHECK(screen.find("\nTERM=xterm-256color\n") != std::string::npos);

  pane.resize(100, 30);
  pane.send("stty size", true);
  pane.send("Enter");
  pane.wait_for("\n30 100\n");

  // Typed keys reach the remote side raw: Ctrl-C interrupts the remote command, not us. The
  // remote shell runs on this machine, so pgrep sees when its `sleep` has started.
  pane.send("echo SHELL=$$", true);
  pane.send("Enter");
  screen = pane.wait_for("\nSHELL=");
  std::smatch m;
  REQUIRE(std::regex_search(screen, m, std::regex("\nSHELL=([0-9]+)\n")));
  const std::string remote_shell = m[1];
  pane.send("sleep 20", true);
  pane.send("Enter");
  {
    INFO("waited for `sleep 20` under the remote shell " << remote_shell);
    REQUIRE(wait_until(
        [&] {
          return run({"pgrep", "-x", "-P", remote_shell, "sleep"}).status == 0;
        },
        30s));
  }
  pane.send("C-c");
  pane.send("echo STILL-HERE", true);
  pane.send("Enter");
  pane.wait_for("\nSTILL-HERE\n");

  pane.send("exit 7", true);
  pane.send("Enter");
  pane.wait_for("EXIT=7");
  check_cooked(pane);
}

TEST_CASE("ssh: a command: stdout and stderr apart, its exit status, stdin forwarded",
          "[integration]") {
  auto& s = server();
  session_files f(s);
  auto c = run_driver(f, {"--", "sh", "-c", "'echo out; echo err >&2; exit 5'"});
  CHECK(c.status == 5);
  CHECK(c.out == "out\n");
  CHECK(c.err == "err\n");

  // No PTY for a command (like ssh without -t), and words joined with spaces like ssh does.
  c = run_driver(f, {"--", "tty;", "echo", "$((1+1))"});
  CHECK(c.out == "not a tty\n2\n");
  CHECK(c.status == 0);

  // Stdin goes through, EOF included, and megabytes both ways respect the windows.
  const auto big = f.dir.path / "big";
  {
    std::ofstream out(big, std::ios::binary);
    for (int i = 0; i < 100000; ++i) out << "line " << i << " of the big input\n";
  }
  const std::string big_text = read_all(big);
  c = run_driver(f, {"--", "cat"}, big.string());
  CHECK(c.status == 0);
  CHECK(c.out.size() == big_text.size());
  CHECK(c.out == big_text);
  c = run_driver(f, {"--", "head", "-c", "5000000", "/dev/zero", "|", "wc", "-c"});
  CHECK(c.out == "5000000\n");
  c = run_driver(f, {"--", "head", "-c", "3000000", "/dev/zero"});
  CHECK(c.out.size() == 3000000);
  CHECK(c.status == 0);
}

TEST_CASE("ssh: a shell without a terminal reads its script from stdin", "[integration]") {
  auto& s = server();
  session_files f(s);
  const auto script = f.dir.path / "script.sh";
  write_file(script, "echo $((6*7))\ntty\necho oops >&2\nexit 9\necho never\n");
  auto c = run_driver(f, {}, script.string());
  CHECK(c.status == 9);
  CHECK(c.out == "42\nnot a tty\n");
  CHECK(c.err == "oops\n");
}

TEST_CASE("ssh: the end of access cuts a shell and a command within 1 s", "[integration]") {
  auto& s = server();
  session_files f(s);
  const auto pid_file = f.dir.path / "remote.pid";
  const auto shell_driver = f.dir.path / "shell-driver.pid";
  const auto command_driver = f.dir.path / "command-driver.pid";

  // Both grants last 3 s from the moment both sessions are seen open (--ready-signal holds their
  // clocks until SIGUSR1), however long the logins take on a loaded machine.
  tmux_pane shell, command;
  shell.start(
      f.command_line(s, {"--ready-signal", "--end-in", "3", "--pid-file", shell_driver.string()}) +
      "; " + apono::test::report_exit + "; stty -a; sleep 60");
  command.start(f.command_line(s, {"--ready-signal", "--end-in", "3", "--pid-file",
                                   command_driver.string(), "--", "sh", "-c",
                                   quote("echo $$ > " + pid_file.string() + "; exec sleep 30")}) +
                "; " + apono::test::report_exit + "; stty -a; sleep 60");
  shell.send("echo READY", true);
  shell.send("Enter");
  shell.wait_for("\nREADY", 60s);
  {
    INFO("waited for the remote command to write its pid to " << pid_file << "\nscreen:\n"
                                                              << command.screen());
    REQUIRE(wait_until([&] { return !read_all(pid_file).empty(); }, 60s));
  }
  const int remote_pid = std::stoi(read_all(pid_file));

  apono::common::system_clock clock;
  const auto ends = clock.now() + 3s;  // each driver starts its clock just after this
  for (const auto& driver : {shell_driver, command_driver})
    REQUIRE(::kill(std::stoi(read_all(driver)), SIGUSR1) == 0);

  std::vector<apono::test::ending> all{
      apono::test::pane_exit("ssh interactive shell", shell),
      apono::test::pane_exit("ssh command (sleep 30)", command),
  };
  apono::test::watch_endings(all, 15s);
  apono::test::check_ended_within_1s(all, ends, "grant end", 50ms);
  const std::string message = "access AR-00077 ended at ";
  for (auto* pane : {&shell, &command}) {
    auto screen = pane->screen();
    INFO(screen);
    CHECK(screen.find(message) != std::string::npos);
    CHECK(screen.find("(the grant expired); request it again: apono requests again AR-00077") !=
          std::string::npos);
    CHECK(screen.find("EXIT=3") != std::string::npos);
    check_cooked(*pane);
  }
  // The remote command was sent SIGHUP before the channel's close. sshd delivers it only with
  // privilege separation, which it skips for root logins: as root, the request is all we see.
  const auto log = s.sshd.log();
  INFO(log);
  if (s.user != "root") {
    CHECK(wait_until([&] { return !fs::exists("/proc/" + std::to_string(remote_pid)); }, 3s));
  } else {
    CHECK(log.find("session_signal_req: session signalling requires privilege separation") !=
          std::string::npos);
    ::kill(remote_pid, SIGKILL);
  }
}

TEST_CASE("ssh: a revoke from another thread cuts a running command within 1 s", "[integration]") {
  auto& s = server();
  session_files f(s);
  apono::common::system_clock clock;
  apono::proxy::grant_watch watch("AR-00078", clock.now() + 10min, clock);
  const auto out_path = f.dir.path / "out";
  const auto err_path = f.dir.path / "err";
  apono::launchers::ssh_options o;
  o.host = "127.0.0.1";
  o.port = s.sshd.port();
  o.user = s.user;
  o.private_key = f.keys.private_key;
  o.certificate = read_all(f.cert);
  o.known_hosts = s.sshd.known_hosts_line();
  o.command = {"echo", "started;", "exec", "sleep", "30"};
  o.watch = &watch;
  int fds[2];
  REQUIRE(::pipe(fds) == 0);  // an input that never sends anything
  o.in = fds[0];
  FILE* out = std::fopen(out_path.c_str(), "w");
  FILE* err = std::fopen(err_path.c_str(), "w");
  o.out = ::fileno(out);
  o.err = ::fileno(err);
  auto done = std::async(std::launch::async, [o] { return apono::launchers::run_ssh(o); });
  REQUIRE(wait_until([&] { return read_all(out_path) == "started\n"; }, 30s));
  std::this_thread::sleep_for(200ms);
  REQUIRE(done.wait_for(0ms) == std::future_status::timeout);

  const auto revoked = std::chrono::steady_clock::now();
  watch.end(apono::proxy::end_cause::revoked);
  REQUIRE(done.wait_for(5s) == std::future_status::ready);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - revoked);
  std::printf("revoke -> ssh command cut: %lld ms\n", static_cast<long long>(took.count()));
  CHECK(done.get() == exit_access_ended);
  CHECK(took < 1s);
  std::fclose(out);
  std::fclose(err);
  ::close(fds[0]);
  ::close(fds[1]);
  CHECK(read_all(err_path) == "\r\n" + watch.message() + "\r\n");
  CHECK(watch.message().find("(it was revoked)") != std::string::npos);
}

TEST_CASE("ssh: SIGTERM and Ctrl-C end the session and the terminal is restored", "[integration]") {
  auto& s = server();
  session_files f(s);
  const auto pid_file = f.dir.path / "driver.pid";
  tmux_pane shell, command;
  shell.start(f.command_line(s, {"--pid-file", pid_file.string()}) +
              "; echo EXIT=$?; stty -a; sleep 60");
  shell.send("echo READY", true);
  shell.send("Enter");
  shell.wait_for("\nREADY");
  const pid_t driver = std::stoi(read_all(pid_file));
  REQUIRE(::kill(driver, SIGTERM) == 0);
  auto screen = shell.wait_for("EXIT=");
  CHECK(screen.find("EXIT=143") != std::string::npos);  // died by SIGTERM, as ssh would
  check_cooked(shell);

  // A command has no raw terminal: Ctrl-C is SIGINT for the driver, which hangs up and dies by it.
  // The trap keeps the pane's own shell alive for the report (the driver gets the default).
  command.start("trap true INT; " + f.command_line(s, {"--", "echo", "RUNNING;", "sleep", "30"}) +
                "; echo EXIT=$?; stty -a; sleep 60");
  command.wait_for("RUNNING");
  command.send("C-c");
  screen = command.wait_for("EXIT=");
  CHECK(screen.find("EXIT=130") != std::string::npos);
  check_cooked(command);
}

TEST_CASE("ssh: a command killed by a signal has no exit status: 255", "[integration]") {
  auto& s = server();
  session_files f(s);
  auto c = run_driver(f, {"--", "echo", "before;", "kill", "-KILL", "$$"});
  CHECK(c.status == 255);
  CHECK(c.out == "before\n");
  CHECK(c.err == "");  // compared, not .empty(): a failure shows what came
}

TEST_CASE("ssh: a connection that breaks is reported, status 255", "[integration]") {
  auto& s = server();
  session_files f(s);
  // The remote shell's parent is the sshd process that serves this connection.
  auto c = run_driver(
      f, {"--", "echo", "started;", "sleep", "0.5;", "kill", "-KILL", "$PPID;", "sleep", "5"});
  CHECK(c.status == 255);
  CHECK(c.out == "started\n");
  CHECK(c.err == "\r\nconnection to 127.0.0.1:" + std::to_string(s.sshd.port()) +
                     " lost: Socket error: disconnected\r\n");
}

TEST_CASE("ssh: access that already ended does not connect", "[integration]") {
  auto& s = server();
  session_files f(s);
  const auto marker = f.dir.path / "ran";
  auto c = run_driver(f, {"--end-at", unix_ms_in(-1s), "--", "touch", marker.string()});
  CHECK(c.status == exit_access_ended);
  CHECK(c.err.find("access AR-00077 ended at ") != std::string::npos);
  CHECK(c.out.empty());
  CHECK(!fs::exists(marker));
}

TEST_CASE("ssh: nothing listening: a clear line, exit 1", "[integration]") {
  auto& s = server();
  session_files f(s);
  const int port = apono::test::free_port();
  write_file(f.known_hosts, "[127.0.0.1]:" + std::to_string(port) + " " + s.sshd.host_key());
  auto args = f.args(s);
  args[2] = std::to_string(port);
  auto r = run(args);
  CHECK(r.status == 1);
  CHECK(r.output ==
        "Error: cannot connect to 127.0.0.1:" + std::to_string(port) + ": Connection refused\n");
}

TEST_CASE("ssh: a host key other than the broker's is refused before logging in", "[integration]") {
  auto& s = server();
  session_files f(s);
  const auto log_before = s.sshd.log().size();
  const std::string where = "127.0.0.1:" + std::to_string(s.sshd.port());
  const auto marker = f.dir.path / "ran";
  const std::vector<std::string> touch{"--", "touch", marker.string()};
  const std::string got = "ssh-ed25519 " + fingerprint(f.dir.path, s.sshd.host_key());

  // Another Ed25519 key for the same host and port.
  auto other = keygen(f.dir.path / "other_host_key");
  std::istringstream other_fields(other);
  std::string type, blob;
  other_fields >> type >> blob;
  write_file(f.known_hosts,
             "[127.0.0.1]:" + std::to_string(s.sshd.port()) + " " + type + " " + blob + "\n");
  auto c = run_driver(f, touch);
  CHECK(c.status == 1);
  CHECK(c.err == "Error: host key for " + where + " does not match the one the broker gave (got " +
                     got + ")\n");
  CHECK(c.out.empty());

  // The right key, but on a @revoked line.
  write_file(f.known_hosts, "@revoked " + s.sshd.known_hosts_line() + "\n" + "[127.0.0.1]:" +
                                std::to_string(s.sshd.port()) + " " + type + " " + blob + "\n");
  c = run_driver(f, touch);
  CHECK(c.status == 1);
  CHECK(c.err ==
        "Error: host key for " + where + " is revoked in what the broker gave (" + got + ")\n");

  // The right key for another port only: nothing vouches for this one.
  write_file(f.known_hosts,
             "[127.0.0.1]:1 " + s.sshd.host_key() + "\n127.0.0.1 " + s.sshd.host_key() + "\n");
  c = run_driver(f, touch);
  CHECK(c.status == 1);
  CHECK(c.err == "Error: the broker gave no host key for " + where + "\n");

  // Only a key type the server does not have: it must not fall back to its Ed25519 key.
  auto ecdsa = run({"ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-C", "", "-f",
                    (f.dir.path / "ecdsa_key").string()});
  REQUIRE(ecdsa.status == 0);
  std::istringstream ecdsa_fields(read_all(f.dir.path / "ecdsa_key.pub"));
  ecdsa_fields >> type >> blob;
  write_file(f.known_hosts,
             "[127.0.0.1]:" + std::to_string(s.sshd.port()) + " " + type + " " + blob + "\n");
  c = run_driver(f, touch);
  CHECK(c.status == 1);
  CHECK(c.err ==
        "Error: " + where + " has no host key of the type the broker gave (ecdsa-sha2-nistp256)\n");

  CHECK(!fs::exists(marker));
  // None of these got as far as offering the certificate.
  CHECK(s.sshd.log().substr(log_before).find("ED25519-CERT") == std::string::npos);
}

TEST_CASE("ssh: a certificate for another principal or from another CA is refused",
          "[integration]") {
  auto& s = server();
  const std::string where = "127.0.0.1:" + std::to_string(s.sshd.port());
  const std::string refused =
      "Error: " + where + " refused the certificate for login " + s.user + "\n";

  session_files other_principal(s, "someone-else");
  const auto marker = other_principal.dir.path / "ran";
  auto c = run_driver(other_principal, {"--", "touch", marker.string()});
  CHECK(c.status == 1);
  CHECK(c.err == refused);
  CHECK(!fs::exists(marker));

  session_files other_ca(s);
  keygen(other_ca.dir.path / "rogue_ca");
  write_file(other_ca.cert,
             s.sign(other_ca.keys.public_key, principal, other_ca.dir.path / "rogue_ca"));
  c = run_driver(other_ca, {"--", "touch", marker.string()});
  CHECK(c.status == 1);
  CHECK(c.err == refused);

  // A certificate signed for another key does not even get sent.
  session_files mismatched(s);
  write_file(mismatched.cert,
             s.sign(apono::launchers::generate_ssh_keypair("other").public_key, principal));
  c = run_driver(mismatched, {"--", "touch", marker.string()});
  CHECK(c.status == 1);
  CHECK(c.err == "Error: the session's certificate was not signed for its key\n");
  CHECK(!fs::exists(marker));
}
