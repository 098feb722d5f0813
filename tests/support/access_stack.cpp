// The `apono access` tests' starting point.
#include "tests/support/access_stack.hpp"

#include <catch2/catch.hpp>

#include <fstream>

namespace apono::test {

using namespace std::chrono_literals;

access_stack::access_stack() {
  pg.psql("CREATE DATABASE appdb");
  pg.psql("CREATE TABLE notes (id int, body text); INSERT INTO notes VALUES (1, 'hello')", "appdb");
  b = std::make_unique<broker_fixture>(pg);
  auto login = cli.apono({"login", "--server", b->url(), "--ca-file", b->ca_file().string(),
                          "--token", b->token("alice")});
  REQUIRE(login.status == 0);
}

std::map<std::string, std::string> access_stack::env() const {
  auto e = cli.env();
  e["XDG_RUNTIME_DIR"] = runtime.path.string();
  return e;
}

cli_result access_stack::apono(const std::vector<std::string>& args) const {
  return cli.apono(args, {}, {{"XDG_RUNTIME_DIR", runtime.path.string()}});
}

std::string access_stack::grant(const std::string& duration, const std::string& permission) {
  auto a = create_request(*b, "alice", "appdb", permission, duration);
  REQUIRE(a.status == 201);
  std::string id(a.json.at("id").as_string());
  if (permission != "read_only")
    REQUIRE(b->call("approver", "POST", "/api/v1/access-requests/" + id + "/approve").status ==
            200);
  REQUIRE(wait_until([&] { return request_status(*b, "alice", id) == "ACTIVE"; }, 30s));
  return id;
}

common::time_point access_stack::ends_at(const std::string& id) {
  auto d = b->call("alice", "GET", "/api/v1/access-requests/" + id);
  return *common::parse_rfc3339(d.json.at("ends_at").as_string());
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace apono::test
