// `apono admin deliveries` and `apono admin endpoints` (cli/cmd_admin.cpp) against a real aponod
// with two webhook endpoints, one of which a 410 Gone disables: the listings, one delivery with
// its body, a redelivery, a test event, enabling, and the refusal for a non-admin.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "broker/notify/webhook/signing.hpp"
#include "common/secrets.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/cli_fixture.hpp"
#include "tests/support/webhook_receiver.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

std::string said(const cli_result& r) {
  return "status " + std::to_string(r.status) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

cli_result ok(const cli_fixture& cli, const std::vector<std::string>& args) {
  auto r = cli.apono(args);
  INFO(said(r));
  REQUIRE(r.status == 0);
  return r;
}

void login(const cli_fixture& cli, broker_fixture& b, const std::string& user) {
  ok(cli,
     {"login", "--server", b.url(), "--ca-file", b.ca_file().string(), "--token", b.token(user)});
}

}  // namespace

TEST_CASE("apono admin: deliveries and endpoints, for admins only") {
  const auto secret = apono::broker::notify::generate_secret();
  webhook_receiver receiver({secret}, json::object{{"/gone", json::array{"410", "200"}}});
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  temp_dir dir("cli-admin");
  const auto extra = dir.path / "extra.yaml";
  apono::common::write_private_file(
      extra, "notifications:\n  webhooks:\n    - name: ok\n      url: " + receiver.url("/ok") +
                 "\n      secrets: [" + secret + "]\n      events: [request.created]\n" +
                 "    - name: gone\n      url: " + receiver.url("/gone") + "\n      secrets: [" +
                 secret + "]\n      events: [request.created]\n");
  broker_fixture b(pg, {"--dev-extra", extra.string()});
  log_on_failure show_log([&] { return b.log(); });
  REQUIRE(create_request(b, "alice", "appdb", "read_only", "1h").status == 201);
  receiver.wait_for("request.created on both endpoints",
                    [](const auto& got) { return got.size() >= 2; });
  REQUIRE(wait_until(
      [&] {
        auto p = b.call("admin", "GET", "/api/v1/notifications/deliveries?status=pending");
        return p.status == 200 && p.json.as_array().empty();
      },
      30s));

  cli_fixture admin;
  login(admin, b, "admin");
  auto endpoints = ok(admin, {"admin", "endpoints"});
  CHECK(endpoints.out.find("NAME") == 0);
  // The URL without its path, which can carry a token.
  CHECK(endpoints.out.find("\nok    webhook  " + receiver.url("/...") +
                           "  request.created  enabled\n") != std::string::npos);
  CHECK(endpoints.out.find("disabled since ") != std::string::npos);
  CHECK(endpoints.out.find("the receiver answered 410 Gone to msg_") != std::string::npos);

  auto dead = json::parse(ok(admin, {"admin", "deliveries", "--status", "dead", "-o", "json"}).out);
  REQUIRE(dead.as_array().size() == 1);
  CHECK(dead.at(0).at("endpoint") == "gone");
  CHECK(dead.at(0).at("last_http_status") == 410);
  const auto dead_id = std::to_string(dead.at(0).at("id").as_int64());
  auto table = ok(admin, {"admin", "deliveries", "list", "--endpoint", "ok"});
  CHECK(table.out.find("request.created  AR-00001  delivered  1") != std::string::npos);

  auto show = ok(admin, {"admin", "deliveries", "show", dead_id});
  CHECK(show.out.find("status:           dead\n") != std::string::npos);
  CHECK(show.out.find("payload:\n{\n  \"type\": \"request.created\"") != std::string::npos);

  // Disabled: a redelivery is refused until the endpoint is enabled again.
  auto refused = admin.apono({"admin", "deliveries", "redeliver", dead_id});
  CHECK(refused.status == 1);
  CHECK(refused.err.find("Error: endpoint 'gone' is disabled: enable it first") == 0);
  CHECK(ok(admin, {"admin", "endpoints", "enable", "gone"}).out == "Endpoint gone is enabled\n");
  auto again = ok(admin, {"admin", "deliveries", "redeliver", dead_id});
  CHECK(again.out.starts_with("Delivery " + dead_id + " (msg_"));
  auto test = ok(admin, {"admin", "endpoints", "test", "ok"});
  CHECK(test.out.starts_with("Test event queued for ok: delivery "));
  receiver.wait_for("the redelivery and the test event", [](const auto& got) {
    auto gone =
        std::count_if(got.begin(), got.end(), [](const auto& r) { return r.path == "/gone"; });
    auto tests = std::count_if(got.begin(), got.end(),
                               [](const auto& r) { return r.type == "notification.test"; });
    return gone == 2 && tests == 1;
  });
  CHECK(receiver.received("/gone").back().answer == 200);

  // Not for others: the broker's one-line refusal, exit 1.
  cli_fixture alice;
  login(alice, b, "alice");
  auto no = alice.apono({"admin", "deliveries"});
  CHECK(no.status == 1);
  CHECK(no.err == "Error: notifications are for admins\n");
  auto usage = admin.apono({"admin", "deliveries", "--status", "lost"});
  CHECK(usage.status == 2);
}
