// Must-show 6 and 7: bad input gets clean 4xx JSON errors and never a crash or a 500; no
// password or token reaches aponod's log; secret files in the data dir are 0600. Also the
// operational endpoints, SIGHUP reload and a bad config at start.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <boost/json.hpp>

#include <atomic>
#include <csignal>
#include <fstream>
#include <iostream>
#include <thread>

#include "common/secrets.hpp"
#include "tests/support/broker_fixture.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

void check_error(const api_answer& a, int status, const std::string& code) {
  INFO(a.body);
  CHECK(a.status == status);
  REQUIRE(a.json.is_object());
  CHECK(a.json.at("error").at("code").as_string() == code.c_str());
  CHECK(!a.json.at("error").at("message").as_string().empty());
}

}  // namespace

TEST_CASE("bad input: clean 4xx JSON errors, never a crash or a 500") {
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  broker_fixture b(pg);
  const std::string create = "/api/v1/access-requests";

  check_error(b.call("alice", "POST", create, "{not json"), 400, "invalid_argument");
  check_error(b.call("alice", "POST", create, "[1,2]"), 400, "invalid_argument");
  check_error(b.call("alice", "POST", create, R"({"integration":5})"), 400, "invalid_argument");
  check_error(b.call("alice", "POST", create,
                     R"({"integration":"pg-local","resources":"appdb","permissions":[1]})"),
              400, "invalid_argument");
  check_error(
      b.call(
          "alice", "POST", create,
          R"({"integration":"pg-local","resources":["appdb"],"permissions":["read_only"],"justification":"x","duration":"forever"})"),
      400, "invalid_argument");
  check_error(
      b.call(
          "alice", "POST", create,
          R"({"integration":"pg-local","resources":["appdb"],"permissions":["read_only"],"justification":"x","duration":{}})"),
      400, "invalid_argument");
  check_error(
      b.call(
          "alice", "POST", create,
          R"({"integration":"pg-local","resources":["appdb"],"permissions":["read_only"],"justification":"x","typo":1})"),
      400, "invalid_argument");
  check_error(
      b.call(
          "alice", "POST", create,
          R"({"integration":"nope","resources":["appdb"],"permissions":["read_only"],"justification":"x"})"),
      400, "invalid_argument");
  check_error(
      b.call(
          "alice", "POST", create,
          R"({"integration":"pg-local","resources":["nodb"],"permissions":["read_only"],"justification":"x"})"),
      400, "invalid_argument");
  check_error(
      b.call(
          "alice", "POST", create,
          R"({"integration":"pg-local","resources":["appdb"],"permissions":["superuser"],"justification":"x"})"),
      400, "invalid_argument");
  auto missing =
      b.call("alice", "POST", create,
             R"({"integration":"pg-local","resources":["appdb"],"permissions":["read_only"]})");
  check_error(missing, 400, "invalid_argument");
  CHECK(missing.json.at("error").at("message").as_string().find("justification") !=
        json::string::npos);
  auto too_long = b.call(
      "alice", "POST", create,
      R"({"integration":"pg-local","resources":["appdb"],"permissions":["read_only"],"justification":"x","duration":"9h"})");
  check_error(too_long, 422, "failed_precondition");
  CHECK(too_long.json.at("error").at("message").as_string().find("8h") != json::string::npos);
  auto dry = b.call(
      "alice", "POST", create,
      R"({"integration":"pg-local","resources":["appdb"],"permissions":["read_only"],"justification":"x","dry_run":true})");
  CHECK(dry.status == 200);
  CHECK(dry.json.at("valid") == true);
  CHECK(b.call("alice", "GET", create).json.as_array().empty());

  // Deep nesting, huge strings, ids and paths.
  check_error(b.call("alice", "POST", create, std::string(5000, '[') + std::string(5000, ']')), 400,
              "invalid_argument");
  check_error(
      b.call("alice", "POST", create, R"({"justification":")" + std::string(100000, 'x') + R"("})"),
      400, "invalid_argument");
  check_error(b.call("alice", "GET", "/api/v1/access-requests/AR-99999"), 404, "not_found");
  check_error(b.call("alice", "GET", "/api/v1/access-requests/banana"), 404, "not_found");
  check_error(b.call("alice", "GET", "/api/v1/access-requests/AR-00001/../../session"), 404,
              "not_found");
  check_error(b.call("alice", "GET", "/api/v1/nothing"), 404, "not_found");
  check_error(b.call("alice", "DELETE", "/api/v1/access-requests"), 404, "not_found");
  check_error(b.call("alice", "GET", "/api/v1/access-requests?days=abc"), 400, "invalid_argument");
  check_error(b.call("alice", "GET", "/api/v1/resources"), 400, "invalid_argument");

  // Tokens.
  check_error(b.call("", "GET", "/api/v1/session"), 401, "unauthenticated");
  {
    apono::common::http_client bad({b.url(), b.ca_file(), "apn_wrong", 10s});
    auto r = bad.request("GET", "/api/v1/session");
    CHECK(r.status == 401);
  }

  // Another user's request.
  auto mine = create_request(b, "alice", "appdb", "read_only", "1h");
  REQUIRE(mine.status == 201);
  auto id = std::string(mine.json.at("id").as_string());
  check_error(b.call("bob", "GET", "/api/v1/access-requests/" + id), 404, "not_found");
  check_error(b.call("bob", "POST", "/api/v1/access-requests/" + id + "/revoke"), 404, "not_found");
  check_error(b.call("bob", "POST", "/api/v1/access-requests/" + id + "/reset-credentials"), 404,
              "not_found");

  // A 10 MB body is refused before it is read whole.
  {
    apono::common::http_client big({b.url(), b.ca_file(), b.token("alice"), 30s});
    auto r = big.request("POST", create, std::string(10 * 1024 * 1024, 'x'));
    CHECK(r.status == 413);
    CHECK(json::parse(r.body).at("error").at("code") == "payload_too_large");
  }

  CHECK(b.process().running());
  CHECK(b.call("alice", "GET", "/api/v1/session").status == 200);
  auto metrics = b.call("", "GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.body.find("apono_http_requests_total{class=\"5xx\"} 0") != std::string::npos);
}

TEST_CASE("secrets stay out of the log and on disk they are 0600") {
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  broker_fixture b(pg);
  auto r = create_request(b, "alice", "appdb", "read_only", "1h");
  auto id = std::string(r.json.at("id").as_string());
  REQUIRE(wait_until([&] { return request_status(b, "alice", id) == "ACTIVE"; }, 30s));
  auto d = b.call("alice", "GET", "/api/v1/access-sessions/" + id + "/access-details");
  auto password = std::string(d.json.at("units").at(0).at("password").as_string());
  auto reset = b.call("alice", "POST", "/api/v1/access-requests/" + id + "/reset-credentials");
  REQUIRE(reset.status == 200);
  auto password2 = std::string(reset.json.at("units").at(0).at("password").as_string());
  CHECK(password2 != password);
  CHECK(b.call("alice", "POST", "/api/v1/access-requests/" + id + "/revoke").status == 200);
  REQUIRE(wait_until([&] { return request_status(b, "alice", id) == "REVOKED"; }, 3s));
  CHECK(b.stop() == 0);

  auto log = b.log();
  CHECK(log.find(id) != std::string::npos);  // the log does talk about the request
  for (const auto& user : {"admin", "approver", "alice", "bob"})
    CHECK(log.find(b.token(user)) == std::string::npos);
  CHECK(log.find(password) == std::string::npos);
  CHECK(log.find(password2) == std::string::npos);
  auto pg_password = pg.admin_url().substr(std::string("postgresql://postgres:").size());
  pg_password = pg_password.substr(0, pg_password.find('@'));
  CHECK(log.find(pg_password) == std::string::npos);

  struct stat st {};
  REQUIRE(::stat(b.data_dir().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  for (const auto& f :
       {"apono.db", "dev-credentials.json", "aponod.yaml", "ca-key.pem", "server-key.pem"}) {
    INFO(f);
    REQUIRE(::stat((b.data_dir() / f).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
  }
  // The revoked unit's secret is not kept at rest.
  CHECK(apono::common::read_file(b.data_dir() / "apono.db").find(password2) == std::string::npos);
}

TEST_CASE("operations: health, readiness, metrics, SIGHUP reload, bad config at start") {
  pg_fixture pg;
  broker_fixture b(pg);
  CHECK(b.call("", "GET", "/healthz").status == 200);
  CHECK(b.call("", "GET", "/readyz").status == 200);
  auto m = b.call("", "GET", "/metrics");
  CHECK(m.body.find("# TYPE apono_grants_total counter") != std::string::npos);

  // A broken config on SIGHUP is rejected and the old one stays in force.
  auto cfg_path = b.data_dir() / "aponod.yaml";
  auto good = apono::common::read_file(cfg_path);
  apono::common::write_private_file(cfg_path, good + "\nbogus_key: 1\n");
  b.process().signal(SIGHUP);
  REQUIRE(
      wait_until([&] { return b.log().find("config reload rejected") != std::string::npos; }, 30s));
  CHECK(b.call("alice", "GET", "/api/v1/session").status == 200);
  // A good one takes effect: alice is removed from the engineers group.
  auto smaller = good;
  auto pos = smaller.find("[alice, bob]");
  REQUIRE(pos != std::string::npos);
  smaller.replace(pos, 12, "[bob]");
  apono::common::write_private_file(cfg_path, smaller);
  b.process().signal(SIGHUP);
  REQUIRE(wait_until([&] { return b.log().find("config reloaded") != std::string::npos; }, 30s));
  CHECK(b.call("alice", "GET", "/api/v1/integrations").json.as_array().empty());
  CHECK(b.call("bob", "GET", "/api/v1/integrations").json.as_array().size() == 1);

  // An invalid file at start: non-zero exit naming the file and the line.
  temp_dir tmp("bad-config");
  const auto& dir = tmp.path;
  std::ofstream(dir / "bad.yaml")
      << "server:\n  listen: 127.0.0.1:1\nusers:\n  - name: a\n    colour: red\n";
  auto res = run({APONOD_BINARY, "--config", (dir / "bad.yaml").string()});
  CHECK(res.status != 0);
  INFO(res.output);
  CHECK(res.output.find("bad.yaml:5") != std::string::npos);
}

TEST_CASE("plan: a selection spanning two flows splits into requests that create as planned") {
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  broker_fixture b(pg);
  const std::string selection = R"({"integration":"pg-local","resource_type":"database",)"
                                R"("resources":["appdb"],"permissions":["read_only","read_write"],)"
                                R"("justification":"INC-7"})";
  // As one request: refused, two flows.
  auto whole = b.call("alice", "POST", "/api/v1/access-requests", selection);
  check_error(whole, 403, "permission_denied");
  auto plan = b.call("alice", "POST", "/api/v1/access-requests/plan", selection);
  INFO(plan.body);
  REQUIRE(plan.status == 200);
  const auto& groups = plan.json.at("groups").as_array();
  REQUIRE(groups.size() == 2);
  CHECK(plan.json.at("refused").as_array().empty());
  CHECK(groups[0].at("flow") == "engineers-read-only");
  CHECK(groups[0].at("automatic") == true);
  CHECK(groups[0].at("approvers").as_array().empty());
  CHECK(groups[0].at("max_duration_seconds") == 8 * 3600);
  CHECK(groups[0].at("units") == json::parse(R"([{"resource":"appdb","permission":"read_only"}])"));
  CHECK(groups[1].at("flow") == "engineers-write");
  CHECK(groups[1].at("automatic") == false);
  CHECK(groups[1].at("approvers") == json::parse(R"(["approver"])"));
  CHECK(groups[1].at("max_duration_seconds") == 4 * 3600);
  CHECK(groups[1].at("resources") == json::parse(R"(["appdb"])"));
  CHECK(groups[1].at("permissions") == json::parse(R"(["read_write"])"));
  // One request per group: each gets the flow the plan named.
  for (const auto& g : groups) {
    json::object body{{"integration", g.at("integration")},
                      {"resource_type", g.at("resource_type")},
                      {"resources", g.at("resources")},
                      {"permissions", g.at("permissions")},
                      {"justification", "INC-7"}};
    auto created = b.call("alice", "POST", "/api/v1/access-requests", json::serialize(body));
    INFO(created.body);
    REQUIRE(created.status == 201);
    CHECK(created.json.at("access_flow") == g.at("flow"));
    CHECK(created.json.at("approval") == (g.at("automatic") == true ? "automatic" : "manual"));
  }
  // Over every flow's maximum: refused with the create's own reason; bad input is a 400.
  auto too_long = b.call("alice", "POST", "/api/v1/access-requests/plan",
                         R"({"integration":"pg-local","resources":["appdb"],)"
                         R"("permissions":["read_only","read_write"],"duration":"6h",)"
                         R"("justification":"x"})");
  REQUIRE(too_long.status == 200);
  CHECK(too_long.json.at("groups").as_array().size() == 1);
  const auto& refused = too_long.json.at("refused").as_array();
  REQUIRE(refused.size() == 1);
  CHECK(refused[0].at("permission") == "read_write");
  CHECK(std::string(refused[0].at("reason").as_string()).find("exceeds the maximum of 4h") !=
        std::string::npos);
  check_error(b.call("alice", "POST", "/api/v1/access-requests/plan",
                     R"({"integration":"pg-local","resources":["nope"],"permissions":["x"]})"),
              400, "invalid_argument");
  check_error(b.call("alice", "POST", "/api/v1/access-requests/plan", R"({"colour":"red"})"), 400,
              "invalid_argument");
  check_error(b.call("", "POST", "/api/v1/access-requests/plan", selection), 401,
              "unauthenticated");
}

TEST_CASE("feed: the session tells where the feed stands; a request's own events for its viewers") {
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  broker_fixture b(pg);
  const std::string write = R"({"integration":"pg-local","resources":["appdb"],)"
                            R"("permissions":["read_write"],"justification":"INC-8"})";
  auto first = b.call("alice", "POST", "/api/v1/access-requests", write);
  REQUIRE(first.status == 201);

  // Starting at the session's position: later changes only, none of the history before it.
  auto s = b.call("alice", "GET", "/api/v1/session");
  INFO(s.body);
  REQUIRE(s.status == 200);
  const auto at = s.json.at("events_after").as_int64();
  CHECK(at > 0);
  auto quiet = b.call("alice", "GET", "/api/v1/events?timeout=0&after=" + std::to_string(at));
  INFO(quiet.body);
  CHECK(quiet.json.at("events").as_array().empty());
  auto second = b.call("alice", "POST", "/api/v1/access-requests", write);
  REQUIRE(second.status == 201);
  const std::string id(second.json.at("id").as_string());
  auto later = b.call("alice", "GET", "/api/v1/events?timeout=0&after=" + std::to_string(at));
  INFO(later.body);
  const auto& evs = later.json.at("events").as_array();
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].at("request_id") == id.c_str());
  CHECK(evs[0].at("action") == "request.created");
  CHECK(evs[0].at("actor") == "alice");

  // The request's timeline: its status changes only, oldest first, each with who caused it.
  auto approved = b.call("approver", "POST", "/api/v1/access-requests/" + id + "/approve", "{}");
  REQUIRE(approved.status == 200);
  auto mine = b.call("alice", "GET", "/api/v1/access-requests/" + id + "/events");
  INFO(mine.body);
  REQUIRE(mine.status == 200);
  const auto& t = mine.json.at("events").as_array();
  REQUIRE(t.size() >= 2);
  CHECK(t[0].at("action") == "request.created");
  CHECK(t[1].at("action") == "request.approved");
  CHECK(t[1].at("actor") == "approver");
  for (std::size_t i = 0; i < t.size(); ++i) {
    CHECK(t[i].at("request_id") == id.c_str());
    CHECK(!t[i].at("status").as_string().empty());
    if (i > 0) CHECK(t[i].at("id").as_int64() > t[i - 1].at("id").as_int64());
  }
  // Nobody else's: bob may not see alice's request, so it does not exist for him.
  check_error(b.call("bob", "GET", "/api/v1/access-requests/" + id + "/events"), 404, "not_found");
}

TEST_CASE("access flows: admins read the policy as configured, nobody else does") {
  pg_fixture pg;
  broker_fixture b(pg);
  auto a = b.call("admin", "GET", "/api/v1/access-flows");
  INFO(a.body);
  REQUIRE(a.status == 200);
  const auto& flows = a.json.as_array();
  const json::object* write = nullptr;
  for (const auto& f : flows)
    if (f.at("name") == "engineers-write") write = &f.as_object();
  REQUIRE(write);
  CHECK(write->at("approval") == "manual");
  CHECK(write->at("approvers").at("groups") == json::parse(R"(["approvers"])"));
  CHECK(write->at("requestors").at("groups") == json::parse(R"(["engineers"])"));
  CHECK(write->at("targets").as_array().at(0).at("integration") == "pg-local");
  CHECK(write->at("max_duration_seconds").as_int64() > 0);
  CHECK(write->at("justification_required").is_bool());
  check_error(b.call("alice", "GET", "/api/v1/access-flows"), 403, "permission_denied");
  check_error(b.call("approver", "GET", "/api/v1/access-flows"), 403, "permission_denied");
}

TEST_CASE("a request names who may approve it under its flow, never its requester") {
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  broker_fixture b(pg);
  auto manual = b.call("alice", "POST", "/api/v1/access-requests",
                       R"({"integration":"pg-local","resources":["appdb"],)"
                       R"("permissions":["read_write"],"justification":"INC-9"})");
  INFO(manual.body);
  REQUIRE(manual.status == 201);
  CHECK(manual.json.at("approvers") == json::parse(R"(["approver"])"));
  const std::string id(manual.json.at("id").as_string());
  auto seen = b.call("approver", "GET", "/api/v1/access-requests/" + id);
  CHECK(seen.json.at("approvers") == json::parse(R"(["approver"])"));
  auto automatic = b.call("alice", "POST", "/api/v1/access-requests",
                          R"({"integration":"pg-local","resources":["appdb"],)"
                          R"("permissions":["read_only"],"justification":"INC-9"})");
  REQUIRE(automatic.status == 201);
  CHECK(automatic.json.at("approvers").as_array().empty());
  auto listed = b.call("alice", "GET", "/api/v1/access-requests");
  REQUIRE(listed.status == 200);
  for (const auto& r : listed.json.as_array()) CHECK(r.at("approvers").is_array());
}

TEST_CASE("shutdown: SIGTERM ends waiting event long-polls instead of waiting them out") {
  pg_fixture pg;
  broker_fixture b(pg);
  const auto at = b.call("alice", "GET", "/api/v1/session").json.at("events_after").as_int64();
  const std::string target = "/api/v1/events?timeout=25&after=" + std::to_string(at);
  const std::vector<std::pair<std::string, std::string>> auth{
      {"Authorization", "Bearer " + b.token("alice")}};
  constexpr int polls = 3;
  std::atomic<int> ended{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < polls; ++i)
    clients.emplace_back([&] {
      try {
        (void)raw_https(b, "GET", target, auth);
      } catch (const std::exception&) {
        // the connection closed under it: also an end
      }
      ++ended;
    });
  // Readiness: the broker says all of them are waiting.
  std::string seen;
  bool waiting = wait_until(
      [&] {
        seen = raw_https(b, "GET", "/metrics", {}).body;
        return seen.find("\napono_event_polls_waiting " + std::to_string(polls) + "\n") !=
               std::string::npos;
      },
      std::chrono::seconds{20});
  INFO("awaited apono_event_polls_waiting " << polls << "; /metrics said:\n" << seen);
  REQUIRE(waiting);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(b.stop() == 0);
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  for (auto& t : clients) t.join();
  std::cout << "aponod stopped " << took.count() << " ms after SIGTERM with " << polls
            << " long-polls waiting\n";
  CHECK(ended == polls);
  // The polls would hold it 25 s; the 1-s target is met on a quiet machine (the figure above),
  // the bound here leaves room for a sanitizer build on two busy cores.
  CHECK(took < std::chrono::seconds{5});
}
