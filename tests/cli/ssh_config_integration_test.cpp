// `apono access use ID --ssh-config` end to end: the real apono and aponod, a throwaway sshd that
// trusts the broker's CA, and OpenSSH's scp, sftp, ssh with rsync and git on top, each given
// only the Host name through the generated config. While the grant lasts they work; at its end
// or a revoke a running session is cut within 1 s, every tool then fails with the database
// shell's message, and the grant's key, certificate, known_hosts and Host block are gone while
// the user's own ssh config lines stay as they were.
#include <catch2/catch.hpp>

#include <cctype>
#include <fstream>
#include <future>

#include "common/secrets.hpp"
#include "tests/support/endings.hpp"
#include "tests/support/ssh_stack.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// The user's own ~/.ssh/config before apono touches it: a comment, a global setting and a
// block of theirs, which must survive byte for byte.
const std::string users_own_lines =
    "# my own settings\nServerAliveInterval 30\n\nHost my-box\n  HostName my-box.invalid\n"
    "  User me\n";

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A user's machine on the stack: their ~/.ssh/config, a local working dir, and a dir on the
// host account to copy to (the same machine: sshd runs here).
struct workstation {
  ssh_stack& s;
  fs::path ssh_config;    // $HOME/.ssh/config of the CLI's fake home
  std::string own_lines;  // what the user had in it
  temp_dir local{"apono-sshcfg-local"};
  temp_dir remote{"apono-sshcfg-remote"};

  // With `own_lines`, a ~/.ssh/config of the user's (in a 0700 ~/.ssh, as ssh wants it);
  // without, no ~/.ssh at all.
  workstation(ssh_stack& stack, std::string lines)
      : s(stack), ssh_config(stack.cli.home() / ".ssh" / "config"), own_lines(std::move(lines)) {
    if (own_lines.empty()) return;
    fs::create_directories(ssh_config.parent_path());
    fs::permissions(ssh_config.parent_path(), fs::perms::owner_all);
    apono::common::write_private_file(ssh_config, own_lines);
  }
  // The environment of the tools: the CLI's fake home. ssh itself reads the config of the
  // passwd entry's home, not $HOME, so every ssh is also given that file with -F: the file
  // apono edited, nothing more.
  [[nodiscard]] std::map<std::string, std::string> env() const {
    auto e = s.env();
    e["GIT_SSH_COMMAND"] = "ssh -F " + quote(ssh_config.string()) + " -o BatchMode=yes";
    e["GIT_CONFIG_NOSYSTEM"] = "1";
    return e;
  }
  [[nodiscard]] std::vector<std::string> ssh(const std::string& program = "ssh") const {
    return {program, "-F", ssh_config.string(), "-o", "BatchMode=yes"};
  }
  run_result scp_up(const std::string& alias) const {
    auto a = ssh("scp");
    a.push_back((local.path / "up.txt").string());
    a.push_back(alias + ":" + (remote.path / "up.txt").string());
    return run(a, {}, env());
  }
  run_result scp_down(const std::string& alias) const {
    auto a = ssh("scp");
    a.push_back(alias + ":" + (remote.path / "down.txt").string());
    a.push_back((local.path / "down.txt").string());
    return run(a, {}, env());
  }
  run_result sftp(const std::string& alias) const {
    auto batch = local.path / "sftp.batch";
    std::ofstream(batch) << "put " << (local.path / "up.txt").string() << " "
                         << (remote.path / "sftp-up.txt").string() << "\nget "
                         << (remote.path / "down.txt").string() << " "
                         << (local.path / "sftp-down.txt").string() << "\n";
    auto a = ssh("sftp");
    for (const auto& x : {std::string("-b"), batch.string(), alias}) a.push_back(x);
    return run(a, {}, env());
  }
  run_result rsync(const std::string& alias) const {
    return run(
        {"rsync", "-a", "-e", "ssh -F " + quote(ssh_config.string()) + " -o BatchMode=yes",
         (local.path / "tree").string() + "/", alias + ":" + (remote.path / "tree").string()},
        {}, env());
  }
  run_result git_clone(const std::string& alias, const std::string& into) const {
    return run({"git", "clone", "-q", alias + ":" + (remote.path / "repo.git").string(),
                (local.path / into).string()},
               {}, env());
  }
};

// What each tool is given to move, and a bare repository with one commit on the host account.
void make_payload(const workstation& w) {
  std::ofstream(w.local.path / "up.txt") << "going up\n";
  std::ofstream(w.remote.path / "down.txt") << "coming down\n";
  fs::create_directories(w.local.path / "tree" / "sub");
  std::ofstream(w.local.path / "tree" / "a.txt") << "a\n";
  std::ofstream(w.local.path / "tree" / "sub" / "b.txt") << "b\n";
  auto src = w.remote.path / "src";
  auto env = w.env();
  REQUIRE(run({"git", "init", "-q", src.string()}, {}, env).status == 0);
  std::ofstream(src / "README") << "over ssh\n";
  REQUIRE(run({"git", "-C", src.string(), "add", "README"}, {}, env).status == 0);
  auto commit = run({"git", "-C", src.string(), "-c", "user.name=t", "-c", "user.email=t@t",
                     "commit", "-q", "-m", "first"},
                    {}, env);
  INFO(commit.output);
  REQUIRE(commit.status == 0);
  REQUIRE(run({"git", "clone", "-q", "--bare", src.string(), (w.remote.path / "repo.git").string()},
              {}, env)
              .status == 0);
}

// Sets the grant up for the tools; returns its Host name.
std::string use_ssh_config(ssh_stack& s, const workstation& w, const std::string& id) {
  auto use = s.apono({"access", "use", id, "--ssh-config"});
  INFO(use.out << use.err);
  REQUIRE(use.status == 0);
  auto alias = "local-sshd." + lower(id) + ".apono";
  CHECK(use.err.find("Wrote Host " + alias + " to ") != std::string::npos);
  CHECK(use.err.find("  scp FILE " + alias + ":\n") != std::string::npos);
  CHECK(use.err.find("  git clone " + alias + ":REPO\n") != std::string::npos);
  // Included once, at the top, and the user's lines after it untouched.
  auto config = apono::common::read_file(w.ssh_config);
  auto apono_config = s.cli.config_dir() / "ssh" / "config";
  CHECK(config ==
        "# Added by apono: the Host blocks of your SSH grants (apono access use ID "
        "--ssh-config).\nInclude " +
            apono_config.string() + "\n" + w.own_lines);
  CHECK(file_mode(w.ssh_config) == 0600);
  CHECK(file_mode(w.ssh_config.parent_path()) == 0700);
  CHECK(file_mode(apono_config) == 0600);
  auto dir = s.cli.config_dir() / "ssh" / id;
  CHECK(file_mode(dir) == 0700);
  for (const auto* f : {"ssh_key", "ssh_key-cert.pub", "known_hosts"})
    CHECK(file_mode(dir / alias / f) == 0600);
  return alias;
}

// Nothing of the grant is left, and the user's config is what it was plus the one Include. The
// relay that saw the end removes the files right after it has cut the session (the cut comes
// first), so they may take a moment more than the session did.
void check_files_gone(ssh_stack& s, const workstation& w, const std::string& id,
                      const std::string& alias) {
  auto dir = s.cli.config_dir() / "ssh" / id;
  CHECK(wait_until([&] { return !fs::exists(dir); }, 5s));
  auto apono_config = apono::common::read_file(s.cli.config_dir() / "ssh" / "config");
  INFO(apono_config);
  CHECK(apono_config.find("Host " + alias) == std::string::npos);
  CHECK(apono_config.find(id) == std::string::npos);
  auto config = apono::common::read_file(w.ssh_config);
  CHECK(config.size() > w.own_lines.size());
  CHECK(config.substr(config.size() - w.own_lines.size()) == w.own_lines);
  CHECK(config.find("Include ") != std::string::npos);
}

// Every tool, through the config, fails and says why.
void check_every_tool_refused(const workstation& w, const std::string& alias,
                              const std::string& message) {
  std::vector<std::pair<std::string, run_result>> tries{
      {"scp up", w.scp_up(alias)},
      {"scp down", w.scp_down(alias)},
      {"sftp", w.sftp(alias)},
      {"rsync", w.rsync(alias)},
      {"git clone", w.git_clone(alias, "late-clone")},
  };
  for (const auto& [what, r] : tries) {
    INFO(what << ": " << r.output);
    CHECK(r.status != 0);
    CHECK(r.output.find(message) != std::string::npos);
  }
  CHECK_FALSE(fs::exists(w.local.path / "late-clone" / "README"));
}

}  // namespace

TEST_CASE(
    "scp both ways, sftp, rsync and git clone through --ssh-config; cut and refused at the "
    "grant's end, its files gone") {
  ssh_stack s;
  workstation w(s, users_own_lines);
  make_payload(w);
  // Long enough for five tools and a session on two loaded cores under ASan, before the end.
  auto id = s.grant("50s");
  auto ends = s.ends_at(id);
  auto alias = use_ssh_config(s, w, id);

  auto up = w.scp_up(alias);
  INFO(up.output);
  CHECK(up.status == 0);
  CHECK(apono::common::read_file(w.remote.path / "up.txt") == "going up\n");
  auto down = w.scp_down(alias);
  INFO(down.output);
  CHECK(down.status == 0);
  CHECK(apono::common::read_file(w.local.path / "down.txt") == "coming down\n");
  auto sftp = w.sftp(alias);
  INFO(sftp.output);
  CHECK(sftp.status == 0);
  CHECK(apono::common::read_file(w.remote.path / "sftp-up.txt") == "going up\n");
  CHECK(apono::common::read_file(w.local.path / "sftp-down.txt") == "coming down\n");
  auto rsync = w.rsync(alias);
  INFO(rsync.output);
  CHECK(rsync.status == 0);
  CHECK(apono::common::read_file(w.remote.path / "tree" / "sub" / "b.txt") == "b\n");
  auto clone = w.git_clone(alias, "clone");
  INFO(clone.output);
  CHECK(clone.status == 0);
  CHECK(apono::common::read_file(w.local.path / "clone" / "README") == "over ssh\n");

  // A session that would outlive the grant, through the same config.
  auto cmd = w.ssh();
  for (const auto& a : {alias, std::string("echo started; exec sleep 60")}) cmd.push_back(a);
  child_process busy(cmd, w.local.path / "busy.log", w.env());
  REQUIRE(wait_until(
      [&] {
        return apono::common::read_file(w.local.path / "busy.log").find("started") !=
               std::string::npos;
      },
      20s));
  require_before_end("a session open through the config", ends);
  int status = -1;
  std::vector<ending> all{{"ssh NAME sleep 60", [&] { return (status = busy.wait(0ms)) != -1; }}};
  // Until well past the end, however much of the grant the tools above left.
  watch_endings(all, std::chrono::duration_cast<std::chrono::milliseconds>(
                         ends - apono::common::system_clock{}.now()) +
                         15s);
  check_ended_within_1s(all, ends, "grant end", 100ms);
  CHECK(status != 0);
  const std::string message = "access " + id + " ended at ";
  const std::string cause = "(the grant expired); request it again: apono requests again " + id;
  auto log = apono::common::read_file(w.local.path / "busy.log");
  INFO(log);
  CHECK(log.find(message) != std::string::npos);
  CHECK(log.find(cause) != std::string::npos);

  // The relay that saw the end removed the grant's files; every tool now gets the message.
  check_files_gone(s, w, id, alias);
  check_every_tool_refused(w, alias, cause);
}

TEST_CASE(
    "a revoke cuts sessions through --ssh-config within 1 s; a later apono run tidies "
    "files no relay saw end") {
  ssh_stack s;
  workstation w(s, "");  // no ~/.ssh yet: apono makes it, 0700, and the config, 0600
  make_payload(w);
  auto id = s.grant("10m");
  auto alias = use_ssh_config(s, w, id);
  // A second grant set up but never used: no relay will see its end.
  auto idle = s.grant("10m");
  auto idle_alias = use_ssh_config(s, w, idle);

  auto cmd = w.ssh();
  for (const auto& a : {alias, std::string("echo started; exec sleep 60")}) cmd.push_back(a);
  child_process busy(cmd, w.local.path / "busy.log", w.env());
  REQUIRE(wait_until(
      [&] {
        return apono::common::read_file(w.local.path / "busy.log").find("started") !=
               std::string::npos;
      },
      20s));
  int status = -1;
  std::vector<ending> all{{"ssh NAME sleep 60", [&] { return (status = busy.wait(0ms)) != -1; }}};
  // Watched from before the revoke is sent, timed from the broker's record of it.
  auto watching = std::async(std::launch::async, [&] { watch_endings(all, 30s); });
  auto revoke = s.apono({"requests", "revoke", id});
  watching.get();
  REQUIRE(revoke.status == 0);
  check_ended_within_1s(all, status_changed_at(*s.b, id, "REVOKING"), "revoke");
  const std::string cause = "(it was revoked); request it again: apono requests again " + id;
  auto log = apono::common::read_file(w.local.path / "busy.log");
  INFO(log);
  CHECK(log.find(cause) != std::string::npos);
  check_files_gone(s, w, id, alias);
  check_every_tool_refused(w, alias, cause);

  // The idle grant kept its block; revoked with nothing running, its files stay until an
  // apono run learns that it ended.
  auto apono_config = s.cli.config_dir() / "ssh" / "config";
  CHECK(apono::common::read_file(apono_config).find("Host " + idle_alias + "\n") !=
        std::string::npos);
  REQUIRE(s.apono({"requests", "revoke", idle}).status == 0);
  REQUIRE(wait_until([&] { return request_status(*s.b, "alice", idle) != "ACTIVE"; }, 30s));
  CHECK(fs::exists(s.cli.config_dir() / "ssh" / idle));
  auto list = s.apono({"access", "list"});
  INFO(list.out << list.err);
  CHECK(list.status == 0);
  check_files_gone(s, w, idle, idle_alias);
}
