// SSH access end to end: the real apono and aponod, a throwaway sshd that trusts the broker's
// CA, OpenSSH's ssh and ssh-keygen, and a terminal (tmux). Certificates say what they should,
// sshd enforces them, and sessions end within 1 s of the grant's end or of a revoke.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <future>
#include <regex>
#include <thread>

#include "broker/ssh/user_ca.hpp"
#include "common/secrets.hpp"
#include "common/time.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/cli_fixture.hpp"
#include "tests/support/endings.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/ssh_stack.hpp"
#include "tests/support/tmux_pane.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

const std::string login = ssh_stack::login();
const std::string principal = ssh_stack::principal();

// An ed25519 host key that is not the fixture's, for the wrong-host-key case.
std::string other_host_key() {
  temp_dir d;
  auto gen = run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", (d.path / "k").string()});
  REQUIRE(gen.status == 0);
  std::istringstream in(apono::common::read_file(d.path / "k.pub"));
  std::string type, blob;
  in >> type >> blob;
  return type + " " + blob;
}

using stack = ssh_stack;

// `ssh -i KEY ...` as `access use` printed it (the line after "Connect with ssh:").
std::string printed_ssh_command(const std::string& out) {
  auto at = out.find("Connect with ssh:\n");
  REQUIRE(at != std::string::npos);
  auto start = out.find_first_not_of(' ', at + 18);
  return out.substr(start, out.find('\n', start) - start);
}

// UTC "YYYY-MM-DDTHH:MM:SS", as ssh-keygen -L prints validity under TZ=UTC.
std::string utc_stamp(apono::common::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::system_clock::duration>(t));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

}  // namespace

TEST_CASE("the certificate says the right things, OpenSSH logs in with it, sshd enforces it") {
  stack s;
  auto id = s.grant("10m");
  auto ends = s.ends_at(id);
  apono::common::system_clock clock;
  auto issued = clock.now();

  auto use = s.apono({"access", "use", id});
  // The broker signed between `issued` and now; on a loaded machine that can be seconds.
  const auto returned = clock.now();
  INFO(use.out << use.err);
  REQUIRE(use.status == 0);
  CHECK(use.out.find("Principal:   " + principal) != std::string::npos);
  CHECK(use.out.find("Certificate: principal " + principal + ", valid from ") != std::string::npos);
  CHECK(use.out.find("IdentitiesOnly=yes") != std::string::npos);
  auto dir = s.use_dir(id);
  CHECK((fs::status(dir).permissions() & fs::perms::all) == fs::perms::owner_all);
  CHECK((fs::status(dir / "ssh_key").permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));

  // 1. What ssh-keygen reads in it (it checks the CA's signature while parsing).
  auto listed =
      run({"ssh-keygen", "-L", "-f", (dir / "ssh_key-cert.pub").string()}, {}, {{"TZ", "UTC"}});
  INFO(listed.output);
  REQUIRE(listed.status == 0);
  CHECK(listed.output.find("Type: ssh-ed25519-cert-v01@openssh.com user certificate") !=
        std::string::npos);
  CHECK(listed.output.find("Key ID: \"" + id + " alice " + login + "@local-sshd\"") !=
        std::string::npos);
  CHECK(std::regex_search(listed.output, std::regex("Principals: \\n\\s+" + principal + "\\n")));
  CHECK(listed.output.find(" to " + utc_stamp(ends)) != std::string::npos);
  // Valid from a minute before it was issued (clock skew), to the second.
  std::smatch from;
  REQUIRE(std::regex_search(listed.output, from, std::regex("Valid: from (\\S+) to")));
  auto after = *apono::common::parse_rfc3339(from[1].str() + "Z");
  CHECK(after <= returned - 59s);
  CHECK(after >= issued - 62s);
  CHECK(listed.output.find("permit-pty") != std::string::npos);
  auto ca = s.b->call("", "GET", "/api/v1/ssh/ca");
  CHECK(listed.output.find("Signing CA: ED25519 " + apono::broker::ssh::fingerprint(ca.body)) !=
        std::string::npos);

  // Real OpenSSH with the printed command, and through `access connect --client ssh`.
  auto cmd = printed_ssh_command(use.out);
  auto native = run({"sh", "-c", cmd + " -o BatchMode=yes echo via-printed-command"});
  INFO(native.output);
  CHECK(native.status == 0);
  CHECK(native.output.find("via-printed-command") != std::string::npos);
  auto client = s.apono({"access", "connect", id, "--client", "ssh", "--", "echo", "via-client"});
  INFO(client.err);
  CHECK(client.status == 0);
  CHECK(client.out == "via-client\n");

  // sshd refuses a certificate from the same CA for another principal, and an expired one.
  auto ca_key = apono::broker::ssh::user_ca::load_or_create(s.b->data_dir() / "ssh_user_ca.pem");
  auto pub = run({"ssh-keygen", "-y", "-f", (dir / "ssh_key").string()});
  REQUIRE(pub.status == 0);
  // The same command on copies of the files, with the test's certificate in place of the
  // broker's (ssh would try both if given both).
  temp_dir forged;
  fs::copy_file(dir / "ssh_key", forged.path / "ssh_key");
  fs::copy_file(dir / "known_hosts", forged.path / "known_hosts");
  auto forged_cmd = std::regex_replace(cmd, std::regex(dir.string()), forged.path.string());
  auto try_cert = [&](std::vector<std::string> principals, apono::common::time_point not_before,
                      apono::common::time_point not_after) {
    apono::broker::ssh::cert_request r;
    r.public_key = pub.output;
    r.serial = 999;
    r.key_id = "made by the test";
    r.principals = std::move(principals);
    r.valid_after = not_before;
    r.valid_before = not_after;
    r.extensions = {"permit-pty"};
    apono::common::write_private_file(forged.path / "ssh_key-cert.pub", ca_key.sign(r) + "\n");
    return run({"sh", "-c", forged_cmd + " -o BatchMode=yes echo logged-in"});
  };
  auto now = clock.now();
  auto control = try_cert({principal}, now - 1min, now + 5min);
  INFO(control.output);
  CHECK(control.status == 0);  // the same path works when the certificate is right
  auto other = try_cert({"apono-someone-else"}, now - 1min, now + 5min);
  INFO(other.output);
  CHECK(other.status == 255);
  CHECK(other.output.find("Permission denied") != std::string::npos);
  auto expired = try_cert({principal}, now - 10min, now - 5min);
  INFO(expired.output);
  CHECK(expired.status == 255);
  CHECK(expired.output.find("Permission denied") != std::string::npos);

  // Bad input to the certificate endpoint: a clear 4xx, never a 500.
  auto rsa = s.b->call("alice", "POST", "/api/v1/access-sessions/" + id + "/ssh-certificate",
                       R"({"public_key":"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ"})");
  CHECK(rsa.status == 400);
  CHECK(rsa.body.find("only ssh-ed25519") != std::string::npos);
  auto bob = s.b->call("bob", "POST", "/api/v1/access-sessions/" + id + "/ssh-certificate",
                       "{\"public_key\":" + json::serialize(json::value(pub.output)) + "}");
  CHECK(bob.status == 404);  // another user's request does not exist for them
}

TEST_CASE("the built-in client: a PTY that follows resizes, a restored terminal, exec status") {
  stack s;
  auto id = s.grant("10m");

  tmux_pane pane;
  pane.start(s.in_pane("access connect " + id));
  pane.send("echo ANSWER=$((6*7)) TERM=$TERM", true);
  pane.send("Enter");
  auto screen = pane.wait_for("ANSWER=42 TERM=");
  CHECK(std::regex_search(screen, std::regex("ANSWER=42 TERM=(screen|tmux)")));
  pane.send("stty size", true);
  pane.send("Enter");
  pane.wait_for("40 120");
  pane.resize(100, 30);
  pane.send("stty size", true);
  pane.send("Enter");
  pane.wait_for("30 100");
  pane.send("tty", true);
  pane.send("Enter");
  pane.wait_for("/dev/pts/");
  pane.send("exit", true);
  pane.send("Enter");
  screen = pane.wait_for("TTY-CHECKED");
  INFO(screen);
  CHECK(screen.find("EXIT=0") != std::string::npos);
  CHECK(screen.find("icanon echo TTY-CHECKED") != std::string::npos);

  auto exec =
      s.apono({"access", "connect", id, "--", "sh", "-c", "'echo out; echo err >&2; exit 7'"});
  CHECK(exec.status == 7);
  CHECK(exec.out == "out\n");
  CHECK(exec.err.find("err\n") != std::string::npos);

  auto bad = s.apono({"access", "connect", id, "--host", "nope"});
  CHECK(bad.status == 2);
  CHECK(bad.err.find("nope is not part of " + id) != std::string::npos);
  auto dir = s.runtime.path / "apono";
  CHECK((!fs::exists(dir) || fs::is_empty(dir)));
}

TEST_CASE("a 25-second grant: SSH sessions are cut within 1 s of the end, then refused") {
  stack s;
  auto id = s.grant("25s");
  auto ends = s.ends_at(id);
  // Files for a login attempt after the end.
  auto use = s.apono({"access", "use", id});
  REQUIRE(use.status == 0);
  auto cmd = printed_ssh_command(use.out);

  tmux_pane builtin, native;
  builtin.start(s.in_pane("access connect " + id));
  native.start(s.in_pane("access connect " + id + " --client ssh"));
  builtin.send("echo READY-$((1+1))", true);
  builtin.send("Enter");
  builtin.wait_for("READY-2");
  native.send("echo READY-$((2+2))", true);
  native.send("Enter");
  native.wait_for("READY-4");

  temp_dir logs;
  child_process busy_builtin(
      {APONO_BINARY, "access", "connect", id, "--", "echo started; exec sleep 60"},
      logs.path / "builtin.log", s.env());
  child_process busy_native({APONO_BINARY, "access", "connect", id, "--client", "ssh", "--",
                             "echo started; exec sleep 60"},
                            logs.path / "native.log", s.env());
  REQUIRE(wait_until(
      [&] {
        return apono::common::read_file(logs.path / "builtin.log").find("started") !=
                   std::string::npos &&
               apono::common::read_file(logs.path / "native.log").find("started") !=
                   std::string::npos;
      },
      20s));
  require_before_end("four SSH sessions open", ends);
  int builtin_status = -1, native_status = -1;
  std::vector<ending> all{
      pane_exit("interactive built-in session", builtin),
      pane_exit("interactive OpenSSH session", native),
      {"built-in client running a command",
       [&] { return (builtin_status = busy_builtin.wait(0ms)) != -1; }},
      {"OpenSSH running a command", [&] { return (native_status = busy_native.wait(0ms)) != -1; }},
  };
  watch_endings(all, 30s);
  check_ended_within_1s(all, ends, "grant end", 100ms);
  const std::string message = "access " + id + " ended at ";
  const std::string cause = "(the grant expired); request it again: apono requests again " + id;
  for (auto* pane : {&builtin, &native}) {
    auto screen = pane->wait_for("TTY-CHECKED");
    INFO(screen);
    CHECK(screen.find(message) != std::string::npos);
    CHECK(screen.find(cause) != std::string::npos);
    CHECK(screen.find("EXIT=3") != std::string::npos);
    CHECK(screen.find("icanon echo TTY-CHECKED") != std::string::npos);
  }
  CHECK(builtin_status == 3);
  CHECK(native_status == 3);
  CHECK(apono::common::read_file(logs.path / "builtin.log").find(message) != std::string::npos);
  CHECK(apono::common::read_file(logs.path / "native.log").find(message) != std::string::npos);

  // Afterwards: no new certificate, and the one from before no longer logs in.
  auto again = s.apono({"access", "connect", id, "--", "true"});
  CHECK(again.status == 1);
  CHECK(again.err.find("only while it is ACTIVE") != std::string::npos);
  auto late = run({"sh", "-c", cmd + " -o BatchMode=yes echo logged-in"});
  INFO(late.output);
  CHECK(late.status == 255);
  CHECK(late.output.find("logged-in") == std::string::npos);
}

TEST_CASE("a revoke from another terminal cuts SSH sessions within 1 s") {
  stack s;
  auto id = s.grant("10m");
  tmux_pane builtin;
  builtin.start(s.in_pane("access connect " + id));
  builtin.send("echo READY-$((1+1))", true);
  builtin.send("Enter");
  builtin.wait_for("READY-2");
  temp_dir logs;
  child_process busy_native({APONO_BINARY, "access", "connect", id, "--client", "ssh", "--",
                             "echo started; exec sleep 60"},
                            logs.path / "native.log", s.env());
  REQUIRE(wait_until(
      [&] {
        return apono::common::read_file(logs.path / "native.log").find("started") !=
               std::string::npos;
      },
      30s));

  int native_status = -1;
  std::vector<ending> all{
      pane_exit("interactive built-in session", builtin),
      {"OpenSSH running a command", [&] { return (native_status = busy_native.wait(0ms)) != -1; }},
  };
  // Watched from before the revoke is sent, and timed from the moment the broker recorded it:
  // the CLI that sends it takes its own while to start and exit.
  auto watching = std::async(std::launch::async, [&] { watch_endings(all, 30s); });
  auto revoke = s.apono({"requests", "revoke", id});
  watching.get();
  REQUIRE(revoke.status == 0);
  check_ended_within_1s(all, status_changed_at(*s.b, id, "REVOKING"), "revoke");
  auto screen = builtin.wait_for("TTY-CHECKED");
  INFO(screen);
  CHECK(screen.find("(it was revoked); request it again: apono requests again " + id) !=
        std::string::npos);
  CHECK(screen.find("EXIT=3") != std::string::npos);
  CHECK(native_status == 3);
}

TEST_CASE("a host key other than the broker's is refused with a clear error") {
  stack s(other_host_key());
  auto id = s.grant("10m");
  auto builtin = s.apono({"access", "connect", id, "--", "echo", "should-not-run"});
  INFO(builtin.err);
  CHECK(builtin.status == 1);
  CHECK(builtin.err.rfind("Error: ", 0) == 0);
  CHECK(builtin.err.find("host key") != std::string::npos);
  CHECK(builtin.err.find("does not match") != std::string::npos);
  CHECK(builtin.out.find("should-not-run") == std::string::npos);
  auto native =
      s.apono({"access", "connect", id, "--client", "ssh", "--", "echo", "should-not-run"});
  INFO(native.err);
  CHECK(native.status == 255);
  CHECK(native.err.find("Host key verification failed") != std::string::npos);
  CHECK(native.out.find("should-not-run") == std::string::npos);
}
