// `apono access connect` and `apono access proxy` end to end: the real apono, aponod,
// PostgreSQL, psql and a terminal (tmux). Sessions must end within 1 s of the grant's end or
// of a revoke from another terminal, with the clear message and exit status 3.
#include <libpq-fe.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <future>
#include <regex>
#include <thread>

#include "common/time.hpp"
#include "tests/support/access_stack.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/cli_fixture.hpp"
#include "tests/support/endings.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/tmux_pane.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// The common stack, and a tmux pane's command line for apono.
struct stack : access_stack {
  // The shell command for a tmux pane: apono with our environment, then how it ended.
  [[nodiscard]] std::string in_pane(const std::string& args) const {
    std::string cmd = "env";
    for (const auto& [k, v] : env()) cmd += " " + k + "=" + quote(v);
    return cmd + " " + quote(APONO_BINARY) + " " + args + "; " + report_exit + "; sleep 60";
  }
};

}  // namespace

TEST_CASE("connect runs SQL through the proxy with the built-in shell and with psql") {
  stack s;
  auto id = s.grant("10m");

  auto builtin =
      s.apono({"access", "connect", id, "-c", "select current_database(), body from notes"});
  INFO(builtin.err);
  REQUIRE(builtin.status == 0);
  CHECK(builtin.out ==
        " current_database | body  \n------------------+-------\n appdb            | hello\n(1 "
        "row)\n\n");

  auto psql =
      s.apono({"access", "connect", id, "--client", "psql", "-c", "select 6 * 7 as answer"});
  INFO(psql.err);
  REQUIRE(psql.status == 0);
  CHECK(psql.out == " answer \n--------\n     42\n(1 row)\n\n");

  // Read-only is read-only: the server refuses, the shell says so and exits 1.
  auto write = s.apono({"access", "connect", id, "-c", "insert into notes values (2, 'x')"});
  CHECK(write.status == 1);
  CHECK(write.err.find("permission denied for table notes") != std::string::npos);

  auto file = s.runtime.path / "q.sql";
  std::ofstream(file) << "select count(*) as n from notes;\nselect 'two' as second;\n";
  auto script = s.apono({"access", "connect", id, "-f", file.string()});
  CHECK(script.status == 0);
  CHECK(script.out == " n \n---\n 1\n(1 row)\n\n second \n--------\n two\n(1 row)\n\n");

  auto bad_db = s.apono({"access", "connect", id, "--db", "nope", "-c", "select 1"});
  CHECK(bad_db.status == 2);
  CHECK(bad_db.err == "Error: database 'nope' is not part of " + id + " (it covers appdb)\n");
  auto bad_client = s.apono({"access", "connect", id, "--client", "dbeaver"});
  CHECK(bad_client.status == 2);
  CHECK(bad_client.err == "Error: unknown client 'dbeaver': use builtin or psql\n");
  auto unknown = s.apono({"access", "connect", "AR-99999", "-c", "select 1"});
  CHECK(unknown.status == 1);
  CHECK(unknown.err.rfind("Error: ", 0) == 0);

  // Every run cleaned its private run directory up.
  auto dir = s.runtime.path / "apono";
  REQUIRE(fs::exists(dir));
  CHECK((fs::status(dir).permissions() & fs::perms::all) == fs::perms::owner_all);
  CHECK(fs::is_empty(dir));
}

TEST_CASE("a 20-second grant: shells and psql are cut within 1 s of the end, then refused") {
  stack s;
  auto id = s.grant("20s");
  auto ends = s.ends_at(id);
  auto details = s.b->call("alice", "GET", "/api/v1/access-sessions/" + id + "/access-details");
  REQUIRE(details.status == 200);
  std::string user(details.json.at("units").at(0).at("username").as_string());
  std::string password(details.json.at("units").at(0).at("password").as_string());

  tmux_pane builtin, native;
  builtin.start(s.in_pane("access connect " + id));
  native.start(s.in_pane("access connect " + id + " --client psql"));
  builtin.wait_for("appdb=> ");
  // Not ending in ';': tmux would take a trailing ';' as its own command separator.
  builtin.send("select body from notes; ", true);
  builtin.send("Enter");
  builtin.wait_for("(1 row)");
  native.wait_for("appdb=> ");

  temp_dir logs;
  child_process busy_builtin({APONO_BINARY, "access", "connect", id, "-c", "select pg_sleep(60)"},
                             logs.path / "builtin.log", s.env());
  child_process busy_psql(
      {APONO_BINARY, "access", "connect", id, "--client", "psql", "-c", "select pg_sleep(60)"},
      logs.path / "psql.log", s.env());
  s.pg.wait_running("select pg_sleep(60)", 2, 15s);  // both busy sessions' queries
  require_before_end("four sessions open", ends);
  int busy_builtin_status = -1, busy_psql_status = -1;

  std::vector<ending> all{
      pane_exit("interactive built-in shell", builtin),
      pane_exit("interactive psql", native),
      {"built-in shell running a query",
       [&] { return (busy_builtin_status = busy_builtin.wait(0ms)) != -1; }},
      {"psql running a query", [&] { return (busy_psql_status = busy_psql.wait(0ms)) != -1; }},
  };
  watch_endings(all, 30s);
  check_ended_within_1s(all, ends, "grant end", 100ms);
  const std::string expired = "access " + id + " ended at ";
  for (auto* pane : {&builtin, &native}) {
    auto screen = pane->screen();
    INFO(screen);
    CHECK(screen.find(expired) != std::string::npos);
    CHECK(screen.find("(the grant expired); request it again: apono requests again " + id) !=
          std::string::npos);
    CHECK(screen.find("EXIT=3") != std::string::npos);
  }
  CHECK(busy_builtin_status == 3);
  CHECK(busy_psql_status == 3);
  CHECK(read_text(logs.path / "builtin.log").find(expired) != std::string::npos);
  CHECK(read_text(logs.path / "psql.log").find(expired) != std::string::npos);

  // Afterwards: the broker gives no details, and the server refuses the old login.
  auto again = s.apono({"access", "connect", id, "-c", "select 1"});
  CHECK(again.status == 1);
  CHECK(again.err.find("access details exist only while it is ACTIVE") != std::string::npos);
  CHECK(wait_until([&] { return s.pg.psql_as(user, password, "appdb", "select 1").first != 0; },
                   10s));
}

TEST_CASE("a revoke from another terminal cuts open sessions within 1 s") {
  stack s;
  auto id = s.grant("10m");
  tmux_pane builtin;
  builtin.start(s.in_pane("access connect " + id));
  builtin.wait_for("appdb=> ");
  temp_dir logs;
  child_process busy_psql(
      {APONO_BINARY, "access", "connect", id, "--client", "psql", "-c", "select pg_sleep(60)"},
      logs.path / "psql.log", s.env());
  s.pg.wait_running("select pg_sleep(60)");

  int status = -1;
  std::vector<ending> all{
      pane_exit("interactive built-in shell", builtin),
      {"psql running a query", [&] { return (status = busy_psql.wait(0ms)) != -1; }},
  };
  // Watched from before the revoke is sent, and timed from the moment the broker recorded it:
  // the CLI that sends it takes its own while to start and exit.
  auto watching = std::async(std::launch::async, [&] { watch_endings(all, 30s); });
  auto revoke = s.apono({"requests", "revoke", id});
  watching.get();
  REQUIRE(revoke.status == 0);
  check_ended_within_1s(all, status_changed_at(*s.b, id, "REVOKING"), "revoke");
  auto screen = builtin.screen();
  INFO(screen);
  CHECK(screen.find("access " + id + " ended at") != std::string::npos);
  CHECK(screen.find("(it was revoked)") != std::string::npos);
  CHECK(screen.find("EXIT=3") != std::string::npos);
  CHECK(status == 3);
}

TEST_CASE("an idle built-in shell shows the 1-minute warning at the prompt, the typed line kept") {
  stack s;
  auto id = s.grant("70s");
  const auto warn_at = s.ends_at(id) - 60s;
  tmux_pane builtin;
  builtin.start(s.in_pane("access connect " + id));
  builtin.wait_for("appdb=> ");
  // Half a statement, not sent: the user is typing when the warning comes.
  const std::string typed = "select 'still here' as typed";
  builtin.send(typed, true);
  builtin.wait_for("appdb=> " + typed);
  require_before_end("the line typed at the prompt", warn_at);

  const std::string warning = "WARNING:  access " + id + " ends in 1 minute, at ";
  auto screen = builtin.wait_for(warning, 90s);
  const auto seen = apono::common::system_clock{}.now();
  std::printf("1-minute warning shown at the idle prompt %lld ms after the 1-minute mark\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(seen - warn_at).count()));
  INFO(screen);
  CHECK(seen >= warn_at - 100ms);
  CHECK(seen < warn_at + 2s);
  // Above the line being typed, which is drawn again below it with the prompt's new time left.
  const auto at = screen.find(warning);
  const auto next_line = screen.find('\n', at);
  REQUIRE(next_line != std::string::npos);
  static const std::regex redrawn(
      R"(^\[(1m00s|[0-9]+s) left\] appdb=> select 'still here' as typed)");
  CHECK(std::regex_search(screen.substr(next_line + 1), redrawn));

  // The line is still libedit's, not just on the screen: finishing it runs it.
  builtin.send("; ", true);  // a trailing ';' alone would be tmux's command separator
  builtin.send("Enter");
  screen = builtin.wait_for("(1 row)");
  CHECK(screen.find(" still here\n") != std::string::npos);
  CHECK(screen.find("EXIT=") == std::string::npos);
}

TEST_CASE("access proxy: real psql and pgbench, the one-time password, a private dir, Ctrl-C") {
  stack s;
  auto id = s.grant("10m", "read_write");
  temp_dir logs;
  auto log = logs.path / "proxy.log";
  int port = free_port();
  child_process proxy({APONO_BINARY, "access", "proxy", id, "--port", std::to_string(port)}, log,
                      s.env());
  REQUIRE(
      wait_until([&] { return read_text(log).find("Press Ctrl-C") != std::string::npos; }, 10s));
  auto text = read_text(log);
  INFO(text);
  std::smatch m;
  REQUIRE(std::regex_search(text, m, std::regex("Password: +(\\S+)")));
  std::string one_time = m[1];
  REQUIRE(std::regex_search(text, m, std::regex("host=(\\S+) port=5432")));
  fs::path socket_dir = m[1].str();
  CHECK(text.find("127.0.0.1:" + std::to_string(port) + "/appdb") != std::string::npos);
  // The database login's own password stays inside the proxy.
  auto details = s.b->call("alice", "GET", "/api/v1/access-sessions/" + id + "/access-details");
  std::string db_password(details.json.at("units").at(0).at("password").as_string());
  CHECK(text.find(db_password) == std::string::npos);

  auto tcp = [&](const std::string& pw) {
    return run({"psql", "-X", "-w", "-At", "-h", "127.0.0.1", "-p", std::to_string(port), "-U",
                "whoever", "-d", "appdb", "-c", "select body from notes"},
               {}, {{"PGPASSWORD", pw}, {"PGSSLMODE", "disable"}});
  };
  auto good = tcp(one_time);
  CHECK(good.status == 0);
  CHECK(good.output == "hello\n");
  auto bad = tcp("not-the-password");
  CHECK(bad.status != 0);
  CHECK(bad.output.find("one-time password") != std::string::npos);
  auto none = run({"psql", "-X", "-w", "-h", "127.0.0.1", "-p", std::to_string(port), "-U", "x",
                   "-d", "appdb", "-c", "select 1"},
                  {}, {{"PGSSLMODE", "disable"}});
  CHECK(none.status != 0);

  struct stat st {};
  REQUIRE(::stat(socket_dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
  auto sock = run({"psql", "-X", "-At", "-h", socket_dir.string(), "-p", "5432", "-U", "x", "-d",
                   "appdb", "-c", "select 1"});
  CHECK(sock.output == "1\n");

  // Real psql through it: \copy out and in, prepared statements.
  auto socket_psql = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv{
        "psql", "-X", "-At", "-v",   "ON_ERROR_STOP=1", "-h", socket_dir.string(), "-p", "5432",
        "-U",   "x",  "-d",  "appdb"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  };
  auto csv = (logs.path / "rows.csv").string();
  auto out = socket_psql({"-c",
                          "\\copy (select g, 'row ' || g from generate_series(2, 1001) g) "
                          "to '" +
                              csv + "' csv"});
  CHECK(out.output == "COPY 1000\n");
  auto in = socket_psql(
      {"-c", "\\copy notes from '" + csv + "' csv", "-c", "select count(*) from notes"});
  CHECK(in.output == "COPY 1000\n1001\n");
  auto prepared = socket_psql(
      {"-c", "prepare q(int) as select body from notes where id = $1", "-c", "execute q(1)"});
  CHECK(prepared.output == "PREPARE\nhello\n");

  // pgbench over TCP with the one-time password: extended protocol and a connection per
  // transaction.
  auto script = logs.path / "bench.sql";
  std::ofstream(script) << "\\set id random(1, 1001)\nselect body from notes where id = :id;\n";
  for (std::vector<std::string> extra : {std::vector<std::string>{"-M", "prepared", "-T", "2"},
                                         std::vector<std::string>{"-C", "-t", "50"}}) {
    std::vector<std::string> argv{"pgbench", "-n",        "-f", script.string(),      "-c", "4",
                                  "-h",      "127.0.0.1", "-p", std::to_string(port), "-U", "x",
                                  "appdb"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto bench = run(argv, {}, {{"PGPASSWORD", one_time}, {"PGSSLMODE", "disable"}});
    INFO(bench.output);
    CHECK(bench.status == 0);
    CHECK(bench.output.find("number of failed transactions: 0") != std::string::npos);
  }

  // A long query cancelled from the client: the cancel key maps to the server's.
  PGconn* c = PQconnectdb(("host=127.0.0.1 port=" + std::to_string(port) +
                           " dbname=appdb user=x sslmode=disable password=" + one_time)
                              .c_str());
  REQUIRE(PQstatus(c) == CONNECTION_OK);
  REQUIRE(PQsendQuery(c, "select pg_sleep(30)") == 1);
  s.pg.wait_running("select pg_sleep(30)");
  PGcancel* cancel = PQgetCancel(c);
  char errbuf[256];
  CHECK(PQcancel(cancel, errbuf, sizeof errbuf) == 1);
  PQfreeCancel(cancel);
  PGresult* res = PQgetResult(c);
  CHECK(std::string(PQresultErrorMessage(res)).find("canceling statement due to user request") !=
        std::string::npos);
  PQclear(res);
  while ((res = PQgetResult(c))) PQclear(res);
  PQfinish(c);

  proxy.signal(SIGINT);
  CHECK(proxy.wait(15s) == 0);
  CHECK(read_text(log).find("Proxy stopped.") != std::string::npos);
  CHECK(read_text(log).find(db_password) == std::string::npos);
  CHECK_FALSE(fs::exists(socket_dir));

  auto open_dir = logs.path / "shared";
  fs::create_directory(open_dir);
  fs::permissions(open_dir, fs::perms::owner_all | fs::perms::group_all | fs::perms::others_all);
  auto refused = s.apono({"access", "proxy", id, "--unix-dir", open_dir.string()});
  CHECK(refused.status == 1);
  CHECK(refused.err.find("is open to other users (mode 0777); use a 0700 directory") !=
        std::string::npos);
}
