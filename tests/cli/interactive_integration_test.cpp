// `apono` with no arguments, driven like a person would: in a real terminal (a detached tmux
// pane), with keys sent and the screen read back. Against a real aponod and PostgreSQL it
// makes a request through the menus, repeats it with the printed command, shows the access
// instructions, aborts with Ctrl-C leaving the terminal as it was, and refuses a non-terminal.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <sstream>
#include <thread>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/cli_fixture.hpp"
#include "tests/support/tmux_pane.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

// The shell command that runs apono with the fixture's config, then reports how it ended.
std::string apono_command(const cli_fixture& cli, const std::string& after = {}) {
  std::string cmd = "env";
  for (const auto& [k, v] : cli.env())
    if (k != "NO_COLOR") cmd += " " + k + "=" + quote(v);  // colours are drawn, tmux strips them
  return cmd + " " + quote(APONO_BINARY) + "; echo EXIT=$?; " + after + "sleep 30";
}

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> w;
  for (std::string x; in >> x;) w.push_back(x);
  return w;
}

bool has_word(const std::string& s, const std::string& word) {
  auto w = words(s);
  return std::find(w.begin(), w.end(), word) != w.end();
}

std::string line_after(const std::string& screen, const std::string& marker) {
  auto at = screen.find(marker);
  if (at == std::string::npos) return {};
  auto end = screen.find('\n', at);
  auto line =
      screen.substr(at + marker.size(), end == std::string::npos ? end : end - at - marker.size());
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

}  // namespace

TEST_CASE("interactive request through the menus, its repeat command, and instructions") {
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  pg.psql("CREATE DATABASE reports");
  broker_fixture b(pg);
  cli_fixture cli;
  auto login = cli.apono({"login", "--server", b.url(), "--ca-file", b.ca_file().string(),
                          "--token", b.token("alice")});
  INFO(login.out << login.err);
  REQUIRE(login.status == 0);

  {
    tmux_pane t;
    t.start(apono_command(cli));
    t.wait_for("What do you want to do?");
    t.send("Enter");  // Request new access
    t.wait_for("? Request by: [");
    t.send("Enter");  // Integration
    // One integration with one resource type: both answered without asking.
    t.wait_for("? Integration: Local PostgreSQL (postgresql) (only option)");
    t.wait_for("? Resource type: database (only option)");

    auto s = t.wait_for("? Resources: [");
    CHECK(s.find("reports") != std::string::npos);
    t.send("/");
    t.send("app", true);
    s = t.wait_for("? Resources: /app");
    CHECK(s.find("> [ ] appdb") != std::string::npos);
    CHECK(s.find("reports") == std::string::npos);  // filtered out
    t.send("Space");
    t.wait_for("> [x] appdb");
    t.send("Enter");
    t.wait_for("? Resources: appdb\n");

    t.wait_for("? Permissions: [");
    t.send("/");
    t.send("read_o", true);
    t.wait_for("> [ ] read_only");
    t.send("Space");
    t.wait_for("> [x] read_only");
    t.send("Enter");
    t.wait_for("? Permissions: read_only\n");

    t.wait_for("? Duration in hours (1):");
    t.send("0.5", true);
    t.send("Enter");
    t.wait_for("? Duration in hours: 0.5");
    t.wait_for("? Justification:");
    t.send("Enter");  // empty: refused, the prompt stays
    t.wait_for("say why you need this access");
    t.send("tmux test", true);
    t.send("Enter");

    s = t.wait_for("EXIT=");
    // Every prompt collapsed to its one answer line: no list or hint is left on the screen.
    CHECK(s.find("to select") == std::string::npos);
    CHECK(s.find("> ") == std::string::npos);
    CHECK(s.find("  ! ") == std::string::npos);
    CHECK(s.find("Status:        ACTIVE") != std::string::npos);
    CHECK(s.find("EXIT=0") != std::string::npos);
    auto repeat = line_after(s, "[notice] To request this access again, run: ");
    INFO(s);
    REQUIRE(repeat.rfind("apono request ", 0) == 0);
    CHECK(repeat ==
          "apono request -i pg-local -t database -r appdb -p read_only -j 'tmux test' -d 0.5");

    // The printed command, run as printed, makes the same request again.
    auto again = run({"sh", "-c", quote(APONO_BINARY) + repeat.substr(5)}, {}, cli.env());
    INFO(again.output);
    REQUIRE(again.status == 0);
    CHECK(again.output.find("ACTIVE") != std::string::npos);
  }

  auto listed = b.call("alice", "GET", "/api/v1/access-requests");
  REQUIRE(listed.status == 200);
  const auto& reqs = listed.json.as_array();
  REQUIRE(reqs.size() == 2);
  for (const auto& r : reqs) {
    CHECK(r.at("integration") == "pg-local");
    CHECK(r.at("resource_type") == "database");
    CHECK(r.at("resources") == json::array{"appdb"});
    CHECK(r.at("permissions") == json::array{"read_only"});
    CHECK(r.at("duration_seconds") == 1800);
    CHECK(r.at("justification") == "tmux test");
    CHECK(r.at("status") == "ACTIVE");
  }

  {  // Connect to a resource: pick an active grant, print its instructions.
    tmux_pane t;
    t.start(apono_command(cli));
    t.wait_for("What do you want to do?");
    t.send("Down");
    t.send("Enter");
    auto s = t.wait_for("? Access: [");
    CHECK(s.find("AR-00002 pg-local appdb (ends in 29m)") != std::string::npos);
    CHECK(s.find("AR-00001 pg-local appdb (ends in 29m)") != std::string::npos);
    t.send("Enter");
    t.wait_for("? Connect or show instructions? [");
    t.send("Down");
    t.send("Enter");
    s = t.wait_for("EXIT=");
    CHECK(s.find("EXIT=0") != std::string::npos);
    CHECK(s.find("Username:") != std::string::npos);
    CHECK(s.find("Password:") != std::string::npos);
    CHECK(s.find("Valid until: ") != std::string::npos);
    CHECK(s.find("  psql 'postgresql://apono_ar2_") != std::string::npos);
    CHECK(s.find("Close this terminal once you have copied the details: they are secrets.") !=
          std::string::npos);
  }

  {  // Connect to a resource: Connect opens the built-in shell through the local proxy.
    tmux_pane t;
    t.start(apono_command(cli));
    t.wait_for("What do you want to do?");
    t.send("j");
    t.send("Enter");
    t.wait_for("? Access: [");
    t.send("Enter");
    t.wait_for("? Connect or show instructions? [");
    t.send("Enter");
    t.wait_for("appdb=> ");
    t.send("select 40 + 2 as answer; ", true);
    t.send("Enter");
    t.wait_for("(1 row)");
    t.send("\\q", true);
    t.send("Enter");
    auto s = t.wait_for("EXIT=");
    CHECK(s.find("     42\n") != std::string::npos);
    CHECK(s.find("EXIT=0") != std::string::npos);
  }

  {  // Request by bundle: the only bundle is chosen, justification, default duration.
    tmux_pane t;
    t.start(apono_command(cli));
    t.wait_for("What do you want to do?");
    t.send("Enter");
    t.wait_for("? Request by: [");
    t.send("Down");
    t.send("Enter");
    t.wait_for("? Bundle: all-databases-read-only (only option)");
    t.wait_for("? Justification:");
    t.send("bundle test", true);
    t.send("Enter");
    t.wait_for("? Duration in hours (1):");
    t.send("Enter");
    auto s = t.wait_for("EXIT=");
    CHECK(s.find("? Duration in hours: 1\n") != std::string::npos);
    CHECK(s.find("Status:        ACTIVE") != std::string::npos);
    CHECK(s.find("Bundle:        all-databases-read-only") != std::string::npos);
    CHECK(line_after(s, "[notice] To request this access again, run: ") ==
          "apono request --bundle all-databases-read-only -j 'bundle test' -d 1");
    CHECK(s.find("EXIT=0") != std::string::npos);
  }
}

TEST_CASE("interactive: Ctrl-C aborts with 130 and gives the terminal back as it was") {
  // The broker is never reached: the first prompt comes before any catalog call.
  pg_fixture pg;
  broker_fixture b(pg);
  cli_fixture cli;
  REQUIRE(cli.apono({"login", "--server", b.url(), "--ca-file", b.ca_file().string(), "--token",
                     b.token("bob")})
              .status == 0);
  tmux_pane t;
  t.start(apono_command(cli, "stty -a; "));
  t.wait_for("What do you want to do?");
  t.send("C-c");
  auto s = t.wait_for("EXIT=130");
  CHECK(s.find("Aborted.") != std::string::npos);
  s = t.wait_for("icanon");
  INFO(s);
  CHECK(has_word(s, "icanon"));
  CHECK(has_word(s, "echo"));
  CHECK(has_word(s, "isig"));
  CHECK_FALSE(has_word(s, "-icanon"));
  CHECK_FALSE(has_word(s, "-echo"));
  CHECK_FALSE(has_word(s, "-isig"));
}

TEST_CASE("interactive: without a terminal it says to use flags and exits 2") {
  cli_fixture cli;
  auto r = cli.apono({}, "");
  CHECK(r.status == 2);
  CHECK(r.out.empty());
  CHECK(r.err ==
        "Error: no terminal: use flags, for example apono request -i INTEGRATION -r RESOURCE -p "
        "PERMISSION -j JUSTIFICATION\n");
}

TEST_CASE("interactive: in a terminal but not logged in, the error says to log in") {
  cli_fixture cli;
  tmux_pane t;
  t.start(apono_command(cli));
  auto s = t.wait_for("EXIT=");
  CHECK(s.find("EXIT=1") != std::string::npos);
  CHECK(s.find("Error: ") != std::string::npos);
  CHECK(s.find("apono login") != std::string::npos);
  CHECK(s.find("What do you want to do?") == std::string::npos);
}
