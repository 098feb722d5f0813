// MCP client scenarios: the stack they run against and the environment tests/mcp/lib.mjs reads.
#include "tests/support/mcp_scenario.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <iostream>
#include <sstream>

#include "common/secrets.hpp"

namespace apono::test {

mcp_stack::mcp_stack() {
  pg.psql("CREATE DATABASE appdb");
  pg.psql("CREATE TABLE notes (id int, body text); INSERT INTO notes VALUES (1, 'hello')", "appdb");
  b = std::make_unique<broker_fixture>(pg);
  // The last login becomes the active profile: alice, who makes the requests.
  for (const char* user : {"approver", "alice"}) {
    std::vector<std::string> args{
        "login",   "--server",    b->url(), "--ca-file", b->ca_file().string(),
        "--token", b->token(user)};
    if (std::string(user) != "alice") args.insert(args.begin(), {"--profile", user});
    auto r = cli.apono(args);
    INFO("apono login as " << user << ": " << r.out << r.err);
    REQUIRE(r.status == 0);
  }
}

void run_mcp_scenario(const std::string& name, const mcp_stack& s,
                      const std::map<std::string, std::string>& extra_env) {
  const std::filesystem::path source(APONO_SOURCE_DIR);
  REQUIRE(
      std::filesystem::exists(source / "web" / "node_modules" / "@modelcontextprotocol" / "sdk"));
  boost::json::object secrets;
  for (const char* user : {"admin", "approver", "alice", "bob"}) {
    secrets[std::string(user) + " API token"] = s.b->token(user);
    secrets[std::string(user) + " password"] = s.b->password(user);
  }
  // The broker's own: the target's admin password and its private keys (a PEM's body lines
  // each count, so a key pasted in part is found too).
  const auto url = s.pg.admin_url();
  const auto colon = url.find(':', url.find("//") + 2);
  secrets["PostgreSQL admin password"] = url.substr(colon + 1, url.find('@') - colon - 1);
  for (const char* file : {"ca-key.pem", "server-key.pem", "ssh_user_ca.pem", "store.key"}) {
    const auto path = s.b->data_dir() / file;
    if (!std::filesystem::exists(path)) continue;
    std::istringstream lines(common::read_file(path));
    int n = 0;
    for (std::string line; std::getline(lines, line);)
      if (line.size() >= 32 && line.find("-----") == std::string::npos)
        secrets[std::string(file) + " line " + std::to_string(++n)] = line;
  }
  auto env = s.cli.env();
  env["XDG_RUNTIME_DIR"] = s.runtime.path.string();
  env["APONO_BINARY"] = APONO_BINARY;
  env["APONO_WEB_DIR"] = (source / "web").string();
  env["APONO_SECRETS"] = boost::json::serialize(secrets);
  for (const auto& [k, v] : extra_env) env[k] = v;
  auto r = run({"node", (source / "tests" / "mcp" / (name + ".mjs")).string()}, {}, env,
               std::chrono::seconds{240});
  INFO("scenario " << name << " (status " << r.status << "):\n" << r.output);
  CHECK(r.status == 0);
  if (r.status == 0) std::cout << r.output;
}

}  // namespace apono::test
