// The real `apono` binary against a real `aponod --dev` and PostgreSQL: login, the catalog,
// requests end to end (the notice's command really repeats the request, the instructions'
// psql command really connects), revoke, approvals, and every kind of failure with its
// one-line message and exit status. One PostgreSQL and one broker serve every test case,
// since each takes seconds to start.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <boost/json.hpp>

#include <memory>
#include <sstream>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/cli_fixture.hpp"
#include "tests/support/process.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

struct servers {
  pg_fixture pg;
  std::unique_ptr<broker_fixture> broker;
  servers() {
    pg.psql("CREATE DATABASE appdb");
    pg.psql("CREATE DATABASE otherdb");
    broker = std::make_unique<broker_fixture>(pg);
  }
};

// Started on first use; destroyed (broker first) when the test program exits.
servers& shared() {
  static servers s;
  return s;
}

// What `apono` said, for failure messages.
std::string said(const cli_result& r) {
  return "status " + std::to_string(r.status) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

json::value parse(const std::string& s) {
  boost::system::error_code ec;
  auto v = json::parse(s, ec);
  INFO(s);
  REQUIRE_FALSE(ec);
  return v;
}

// The value after `Label:` in a result block.
std::string field(const std::string& block, const std::string& label) {
  std::istringstream in(block);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(label + ":", 0) == 0) {
      auto v = line.substr(label.size() + 1);
      return v.substr(std::min(v.find_first_not_of(' '), v.size()));
    }
  return {};
}

std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0) out.push_back(line.substr(prefix.size()));
  return out;
}

cli_result login(const cli_fixture& cli, broker_fixture& b, const std::string& user,
                 const std::string& profile = {}) {
  std::vector<std::string> args;
  if (!profile.empty()) args = {"--profile", profile};
  for (const auto& a :
       {std::string("login"), std::string("--server"), b.url(), std::string("--ca-file"),
        b.ca_file().string(), std::string("--token"), b.token(user)})
    args.push_back(a);
  auto r = cli.apono(args);
  INFO(said(r));
  REQUIRE(r.status == 0);
  return r;
}

// The (integration, resources, permissions) a request names, from `requests describe -o json`.
std::string what_of(const cli_fixture& cli, const std::string& id) {
  auto r = cli.apono({"requests", "describe", id, "-o", "json"});
  INFO(said(r));
  REQUIRE(r.status == 0);
  auto v = parse(r.out);
  return json::serialize(v.at("integration")) + json::serialize(v.at("resources")) +
         json::serialize(v.at("permissions"));
}

std::string status_of(const cli_fixture& cli, const std::string& id) {
  auto r = cli.apono({"requests", "describe", id, "-o", "json"});
  if (r.status != 0) return {};
  return std::string(parse(r.out).at("status").as_string());
}

}  // namespace

TEST_CASE("end to end: login, catalog, request, repeat, details, psql, revoke") {
  auto& b = *shared().broker;
  cli_fixture cli;

  auto in = login(cli, b, "alice");
  CHECK(in.out.find("as alice") != std::string::npos);
  CHECK(file_mode(cli.config_dir() / "config.json") == 0600);
  CHECK(file_mode(cli.config_dir()) == 0700);

  // The catalog as a table and as JSON.
  auto integ = cli.apono({"integrations"});
  INFO(said(integ));
  REQUIRE(integ.status == 0);
  CHECK(integ.out.rfind("ID ", 0) == 0);
  CHECK(integ.out.find("pg-local") != std::string::npos);
  auto integ_json = parse(cli.apono({"integrations", "-o", "json"}).out);
  REQUIRE(integ_json.as_array().size() == 1);
  CHECK(integ_json.at(0).at("id") == "pg-local");
  CHECK(integ_json.at(0).at("type") == "postgresql");

  for (const auto& [what, expect] :
       {std::pair<std::string, std::string>{"resources", "appdb"}, {"permissions", "read_only"}}) {
    auto t = cli.apono({what, "-i", "pg-local", "-t", "database"});
    INFO(said(t));
    REQUIRE(t.status == 0);
    CHECK(t.out.find(expect) != std::string::npos);
    auto j = cli.apono({what, "-i", "pg-local", "-t", "database", "-o", "json"});
    std::vector<std::string> names;
    auto listed = parse(j.out);
    for (const auto& e : listed.as_array()) names.emplace_back(e.at("name").as_string());
    CHECK(std::find(names.begin(), names.end(), expect) != names.end());
  }

  // A request: the block, exactly, with the command that repeats it.
  auto req = cli.apono({"request", "-i", "pg-local", "-t", "database", "-r", "appdb", "-p",
                        "read_only", "-j", "INC 42", "-d", "10m"});
  INFO(said(req));
  REQUIRE(req.status == 0);
  auto id = field(req.out, "ID");
  REQUIRE(id.rfind("AR-", 0) == 0);
  CHECK(req.out == "ID:            " + id +
                       "\n"
                       "Status:        ACTIVE\n"
                       "Integration:   pg-local\n"
                       "Resources:     appdb\n"
                       "Permissions:   read_only\n"
                       "Justification: INC 42\n"
                       "\n"
                       "[notice] To request this access again, run: apono request -i pg-local -t "
                       "database -r appdb -p read_only -j 'INC 42' -d 10m\n");

  // The notice's command, as a user pastes it into a shell, makes the same request again.
  auto notice = lines_starting(req.out, "[notice] To request this access again, run: apono ");
  REQUIRE(notice.size() == 1);
  auto again = run({"sh", "-c", quote(APONO_BINARY) + " " + notice[0]}, {}, cli.env());
  INFO(again.output);
  REQUIRE(again.status == 0);
  auto id2 = field(again.output, "ID");
  REQUIRE(!id2.empty());
  CHECK(id2 != id);
  CHECK(field(again.output, "Status") == "ACTIVE");
  CHECK(what_of(cli, id2) == what_of(cli, id));
  CHECK(what_of(cli, id) == R"("pg-local"["appdb"]["read_only"])");

  // Several resources, in each spelling CLI11 accepts; JSON output for scripts.
  auto multi = cli.apono({"requests", "create", "--integration", "pg-local", "--resources", "appdb",
                          "otherdb", "--permissions", "read_only", "--justification", "INC-43",
                          "--no-wait", "-o", "json"});
  INFO(said(multi));
  REQUIRE(multi.status == 0);
  auto multi_json = parse(multi.out);
  CHECK(json::serialize(multi_json.at("resources")) == R"(["appdb","otherdb"])");
  auto comma = cli.apono({"request", "-i", "pg-local", "-r", "appdb,otherdb", "-p", "read_only",
                          "-j", "INC-44", "-d", "0.25"});
  INFO(said(comma));
  REQUIRE(comma.status == 0);
  CHECK(field(comma.out, "Resources") == "appdb, otherdb");
  CHECK(comma.out.find("-r appdb -r otherdb -p read_only -j INC-44 -d 0.25") != std::string::npos);

  // The list has them all, newest first.
  auto list = cli.apono({"requests", "list", "-o", "json"});
  INFO(said(list));
  REQUIRE(list.status == 0);
  std::vector<std::string> ids;
  auto listed = parse(list.out);
  for (const auto& r : listed.as_array()) ids.emplace_back(r.at("id").as_string());
  REQUIRE(ids.size() == 4);
  CHECK(ids[3] == id);
  CHECK(ids[2] == id2);
  auto table = cli.apono({"requests"});
  CHECK(table.status == 0);
  CHECK(table.out.rfind("ID", 0) == 0);
  CHECK(table.out.find("PERMISSIONS") != std::string::npos);
  CHECK(table.out.find(id) != std::string::npos);

  auto desc = cli.apono({"requests", "describe", id});
  INFO(said(desc));
  REQUIRE(desc.status == 0);
  CHECK(field(desc.out, "Status") == "ACTIVE");
  CHECK(field(desc.out, "Flow") == "engineers-read-only (automatic)");
  CHECK(field(desc.out, "Decided by") == "automatic");
  CHECK(field(desc.out, "Duration") == "10m");
  CHECK(field(desc.out, "Ends").find("(in ") != std::string::npos);
  CHECK(desc.out.find("RESOURCE  PERMISSION  STATUS  LAST ERROR") != std::string::npos);
  CHECK(desc.out.find("appdb     read_only   ACTIVE") != std::string::npos);

  auto sessions = cli.apono({"access", "list"});
  INFO(said(sessions));
  REQUIRE(sessions.status == 0);
  CHECK(sessions.out.find(id) != std::string::npos);
  CHECK(sessions.out.find("(in ") != std::string::npos);

  // Credentials: JSON for scripts, instructions whose psql commands really connect.
  auto details_json = cli.apono({"access-details", id, "-o", "json"});
  INFO(said(details_json));
  REQUIRE(details_json.status == 0);
  auto d = parse(details_json.out);
  CHECK(d.at("request_id") == id.c_str());
  CHECK(!d.at("units").at(0).at("username").as_string().empty());
  CHECK(!d.at("units").at(0).at("password").as_string().empty());
  auto instructions = cli.apono({"access-details", id});
  INFO(said(instructions));
  REQUIRE(instructions.status == 0);
  const std::string advice =
      "Close this terminal once you have copied the details: they are secrets.\n";
  REQUIRE(instructions.out.size() > advice.size());
  CHECK(instructions.out.substr(instructions.out.size() - advice.size()) == advice);
  CHECK(instructions.out.find(std::string(d.at("units").at(0).at("password").as_string())) !=
        std::string::npos);
  auto commands = lines_starting(instructions.out, "  psql ");
  for (const auto& c : lines_starting(instructions.out, "  PGPASSWORD="))
    commands.push_back("PGPASSWORD=" + c);
  REQUIRE(commands.size() == 2);
  commands[0] = "psql " + commands[0];
  for (const auto& c : commands) {
    auto r = run({"sh", "-c", c + " -X -A -t -c 'SELECT 1'"});
    INFO(c << "\n" << r.output);
    CHECK(r.status == 0);
    CHECK(r.output == "1\n");
  }
  CHECK(cli.apono({"access", "use", id, "-o", "markdown"}).out.find("```sh\npsql ") !=
        std::string::npos);

  // A fresh password; the old one stops working.
  auto reset = cli.apono({"access", "reset-credentials", id, "-o", "json"});
  INFO(said(reset));
  REQUIRE(reset.status == 0);
  CHECK(parse(reset.out).at("units").at(0).at("password") != d.at("units").at(0).at("password"));
  CHECK(run({"sh", "-c", commands[1] + " -X -A -t -c 'SELECT 1'"}).status != 0);

  // Request again: a new request with the same units and a new justification.
  auto re = cli.apono({"requests", "again", id, "-j", "INC-45", "-d", "5m"});
  INFO(said(re));
  REQUIRE(re.status == 0);
  auto id5 = field(re.out, "ID");
  CHECK(field(re.out, "Status") == "ACTIVE");
  CHECK(field(re.out, "Justification") == "INC-45");
  CHECK(re.out.find("-p read_only -j INC-45 -d 5m\n") != std::string::npos);
  CHECK(what_of(cli, id5) == what_of(cli, id));

  // Revoke and wait: the grant is gone and details say why.
  auto rev = cli.apono({"requests", "revoke", id, "--wait"});
  INFO(said(rev));
  REQUIRE(rev.status == 0);
  CHECK(rev.out == id + " is REVOKED\n");
  auto gone = cli.apono({"access-details", id});
  CHECK(gone.status == 1);
  CHECK(gone.err.rfind("Error: ", 0) == 0);
  CHECK(gone.err.find(id) != std::string::npos);
  auto quick = cli.apono({"requests", "revoke", id2, "--reason", "done"});
  INFO(said(quick));
  CHECK(quick.status == 0);
  CHECK((quick.out == id2 + " is REVOKING\n" || quick.out == id2 + " is REVOKED\n"));
}

TEST_CASE("approvals: a manual request waits, only an approver decides") {
  auto& b = *shared().broker;
  cli_fixture alice, bob;
  login(alice, b, "alice");
  login(bob, b, "bob");

  // Someone who has asked for nothing yet lists nothing, as JSON scripts expect.
  auto empty = bob.apono({"requests", "list", "-o", "json"});
  INFO(said(empty));
  CHECK(empty.status == 0);
  CHECK(empty.out == "[]\n");
  CHECK(bob.apono({"requests"}).out == "No requests found.\n");

  auto req = bob.apono({"request", "-i", "pg-local", "-t", "database", "-r", "appdb", "-p",
                        "read_write", "-j", "schema fix"});
  INFO(said(req));
  REQUIRE(req.status == 0);
  auto id = field(req.out, "ID");
  CHECK(field(req.out, "Status") == "PENDING");
  CHECK(req.out.find("\nWaiting for an approver.\n") != std::string::npos);
  CHECK(req.out.find("-p read_write -j 'schema fix' -d 1h\n") != std::string::npos);

  // The broker's own refusals come through as one line.
  auto own = bob.apono({"approve", id});
  CHECK(own.status == 1);
  CHECK(own.err == "Error: you cannot approve your own request\n");
  auto other = alice.apono({"approve", id});
  CHECK(other.status == 1);
  CHECK(other.err == "Error: " + id + " not found\n");

  login(alice, b, "approver", "approver");
  auto profiles = alice.apono({"profiles", "list", "-o", "json"});
  CHECK(parse(profiles.out).as_array().size() == 2);
  auto approvable = alice.apono({"--profile", "approver", "requests", "--scope", "approvable"});
  INFO(said(approvable));
  CHECK(approvable.out.find(id) != std::string::npos);
  auto ok = alice.apono({"--profile", "approver", "approve", id});
  INFO(said(ok));
  REQUIRE(ok.status == 0);
  CHECK(ok.out == "Approved " + id + "; it is now GRANTING\n");
  CHECK(wait_until([&] { return status_of(bob, id) == "ACTIVE"; }, 30s));
  auto desc = bob.apono({"requests", "describe", id});
  CHECK(field(desc.out, "Decided by") == "approver");
  CHECK(field(desc.out, "Flow") == "engineers-write (manual)");

  // Rejecting needs a reason, checked before anything is sent.
  auto second = bob.apono(
      {"request", "-i", "pg-local", "-r", "otherdb", "-p", "admin", "-j", "cleanup", "--no-wait"});
  REQUIRE(second.status == 0);
  auto id2 = field(second.out, "ID");
  auto bare = alice.apono({"--profile", "approver", "reject", id2});
  CHECK(bare.status == 2);
  CHECK(bare.err == "Error: --reason is required: tell the requester why\n");
  auto no = alice.apono({"--profile", "approver", "reject", id2, "--reason", "not today"});
  INFO(said(no));
  REQUIRE(no.status == 0);
  CHECK(no.out == "Rejected " + id2 + "; it is now REJECTED\n");
  auto rejected = bob.apono({"requests", "describe", id2});
  CHECK(field(rejected.out, "Status") == "REJECTED");
  CHECK(field(rejected.out, "Reason") == "not today");
}

TEST_CASE("failures: one `Error:` line and the right exit status") {
  auto& b = *shared().broker;

  // Before any login.
  cli_fixture fresh;
  auto none = fresh.apono({"integrations"});
  CHECK(none.status == 1);
  CHECK(none.err == "Error: no profiles configured, run `apono login`\n");
  CHECK(none.out.empty());

  // Usage mistakes are caught before the profile is even read (the fresh one has none), so
  // they never cost a round trip.
  struct usage_case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<usage_case> usage{
      {{"request", "-i", "pg-local", "-r", "appdb", "-p", "read_only"},
       "Error: -j/--justification is required: say why you need this access\n"},
      {{"request", "-i", "pg-local", "-r", "appdb", "-p", "read_only", "-j", "x", "-d", "x"},
       "Error: invalid duration 'x': use hours (0.75) or 90s, 45m, 1h30m\n"},
      {{"request", "-i", "pg-local", "-r", "appdb", "-p", "read_only", "-j", "x", "-o", "xml"},
       "Error: unknown output format 'xml': use table, json or yaml\n"},
      {{"request", "-r", "appdb", "-p", "read_only", "-j", "x"},
       "Error: -i/--integration is required (or --bundle NAME)\n"},
      {{"request", "-i", "pg-local", "-p", "read_only", "-j", "x"},
       "Error: -r/--resources is required: name at least one resource\n"},
      {{"request", "--bundle", "all-databases-read-only", "-i", "pg-local", "-j", "x"},
       "Error: --bundle cannot be combined with -i, -t, -r or -p: the bundle names them\n"},
      {{"requests", "again", "AR-00001", "-j", "x", "-d", "1y"},
       "Error: invalid duration '1y': use hours (0.75) or 90s, 45m, 1h30m\n"},
      {{"access-details", "AR-00001", "-o", "xml"},
       "Error: unknown output format 'xml': use instructions, markdown, json or yaml\n"},
  };
  for (const auto& u : usage) {
    auto r = fresh.apono(u.args);
    INFO(said(r));
    CHECK(r.status == 2);
    CHECK(r.err == u.message);
  }
  CHECK(fresh.apono({"requests", "describe"}).status == 2);

  cli_fixture cli;
  login(cli, b, "alice");
  auto nope = cli.apono({"--profile", "nope", "integrations"});
  CHECK(nope.status == 1);
  CHECK(nope.err == "Error: profile nope not exists\n");

  auto count = [&] {
    return parse(cli.apono({"requests", "list", "-o", "json"}).out).as_array().size();
  };
  const auto before = count();

  // The broker's 4xx, passed through.
  auto too_long = cli.apono({"request", "-i", "pg-local", "-t", "database", "-r", "appdb", "-p",
                             "read_only", "-j", "x", "-d", "9h"});
  INFO(said(too_long));
  CHECK(too_long.status == 1);
  CHECK(too_long.err.rfind("Error: duration 9h exceeds the maximum", 0) == 0);
  CHECK(std::count(too_long.err.begin(), too_long.err.end(), '\n') == 1);
  CHECK(too_long.out.empty());
  auto unknown =
      cli.apono({"request", "-i", "nowhere", "-r", "appdb", "-p", "read_only", "-j", "x"});
  CHECK(unknown.status == 1);
  CHECK(unknown.err == "Error: integration nowhere not found (available: pg-local)\n");
  // Dry runs leave nothing behind.
  CHECK(count() == before);

  // A broker that is not there.
  const auto closed = "https://127.0.0.1:" + std::to_string(free_port());
  cli_fixture lost;
  auto unreachable = lost.apono({"login", "--server", closed, "--ca-file", b.ca_file().string(),
                                 "--token", b.token("alice")});
  INFO(said(unreachable));
  CHECK(unreachable.status == 1);
  CHECK(unreachable.err.rfind("Error: ", 0) == 0);
  CHECK(unreachable.err.find("cannot reach") != std::string::npos);
  CHECK(unreachable.err.find(closed) != std::string::npos);
  CHECK(!std::filesystem::exists(lost.config_dir() / "config.json"));

  // A broker whose certificate the given CA did not sign.
  temp_dir dir("apono-wrong-ca");
  auto key = dir.path / "key.pem", ca = dir.path / "ca.pem";
  auto gen = run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-keyout", key.string(), "-out", ca.string(), "-subj", "/CN=wrong CA",
                  "-days", "1"});
  INFO(gen.output);
  REQUIRE(gen.status == 0);
  auto tls = lost.apono(
      {"login", "--server", b.url(), "--ca-file", ca.string(), "--token", b.token("alice")});
  INFO(said(tls));
  CHECK(tls.status == 1);
  CHECK(tls.err.rfind("Error: ", 0) == 0);
  CHECK(tls.err.find("TLS verification failed") != std::string::npos);
}
