// The SSH tests' stack: what an admin and a user do before the first SSH login.
#include "tests/support/ssh_stack.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "tests/support/endings.hpp"

namespace apono::test {

namespace json = boost::json;
using namespace std::chrono_literals;

ssh_stack::ssh_stack(const std::string& host_key) : sshd({"", {{login(), {principal()}}}, ""}) {
  b = std::make_unique<broker_fixture>(
      pg, std::vector<std::string>{"--ssh-target", "127.0.0.1:" + std::to_string(sshd.port()),
                                   "--ssh-host-key", host_key.empty() ? sshd.host_key() : host_key,
                                   "--ssh-login", login()});
  // What an admin does: fetch the CA (no login needed) and trust it in sshd.
  auto ca = b->call("", "GET", "/api/v1/ssh/ca");
  REQUIRE(ca.status == 200);
  REQUIRE(ca.body.rfind("ssh-ed25519 ", 0) == 0);
  sshd.set_trusted_ca(ca.body);
  auto in = cli.apono({"login", "--server", b->url(), "--ca-file", b->ca_file().string(), "--token",
                       b->token("alice")});
  REQUIRE(in.status == 0);
}

const std::string& ssh_stack::login() {
  static const std::string name = sshd_fixture::current_user();
  return name;
}

std::string ssh_stack::principal() {
  return "apono-" + login();
}

std::map<std::string, std::string> ssh_stack::env() const {
  auto e = cli.env();
  e["XDG_RUNTIME_DIR"] = runtime.path.string();
  return e;
}

cli_result ssh_stack::apono(const std::vector<std::string>& args) const {
  return cli.apono(args, {}, {{"XDG_RUNTIME_DIR", runtime.path.string()}});
}

std::string ssh_stack::grant(const std::string& duration) {
  json::object body{{"integration", "ssh-local"},
                    {"resources", json::array{"local-sshd"}},
                    {"permissions", json::array{json::value(login())}},
                    {"duration", duration},
                    {"justification", "ssh integration test"}};
  auto a = b->call("alice", "POST", "/api/v1/access-requests", json::serialize(body));
  INFO(a.body);
  REQUIRE(a.status == 201);
  std::string id(a.json.at("id").as_string());
  REQUIRE(wait_until([&] { return request_status(*b, "alice", id) == "ACTIVE"; }, 30s));
  return id;
}

common::time_point ssh_stack::ends_at(const std::string& id) {
  auto d = b->call("alice", "GET", "/api/v1/access-requests/" + id);
  return *common::parse_rfc3339(d.json.at("ends_at").as_string());
}

std::string ssh_stack::in_pane(const std::string& args) const {
  std::string cmd = "env";
  for (const auto& [k, v] : env()) cmd += " " + k + "=" + quote(v);
  return cmd + " " + quote(APONO_BINARY) + " " + args + "; " + report_exit +
         "; stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo)' | "
         "tr '\\n' ' '; echo TTY-CHECKED; sleep 60";
}

std::filesystem::path ssh_stack::use_dir(const std::string& id) const {
  return runtime.path / "apono" / ("ssh-" + id);
}

}  // namespace apono::test
