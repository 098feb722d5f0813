// aponod's SIGTERM while `apono access proxy` holds an event long-poll on it, end to end: the
// broker exits at once instead of waiting the poll out, the proxy's session keeps running
// while the broker is away, and once a broker runs again on the same store and address the
// proxy's watch is back on it: a revoke then still cuts the session within a second.
#include <libpq-fe.h>
#include <poll.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <future>
#include <iostream>
#include <regex>

#include "common/time.hpp"
#include "tests/support/access_stack.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/cli_fixture.hpp"
#include "tests/support/endings.hpp"
#include "tests/support/pg_fixture.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// The broker's count of event long-polls waiting; -1 when it cannot be read.
int polls_waiting(broker_fixture& b) {
  try {
    auto body = raw_https(b, "GET", "/metrics", {}).body;
    std::smatch m;
    if (std::regex_search(body, m, std::regex("\napono_event_polls_waiting (\\d+)\n")))
      return std::stoi(m[1]);
  } catch (const std::exception&) {
    // not up (yet)
  }
  return -1;
}

std::string value(PGconn* c, const std::string& sql) {
  PGresult* r = PQexec(c, sql.c_str());
  std::string out = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0
                        ? PQgetvalue(r, 0, 0)
                        : "ERROR: " + std::string(PQerrorMessage(c));
  PQclear(r);
  return out;
}

}  // namespace

TEST_CASE("SIGTERM to aponod with a proxy attached: out within 1 s; the proxy rides the restart") {
  access_stack s;
  broker_fixture& b = *s.b;
  auto id = s.grant("10m");
  auto log = s.runtime.path / "proxy.log";
  int port = free_port();
  child_process proxy({APONO_BINARY, "access", "proxy", id, "--port", std::to_string(port)}, log,
                      s.env());
  REQUIRE(
      wait_until([&] { return read_text(log).find("Press Ctrl-C") != std::string::npos; }, 15s));
  auto text = read_text(log);
  std::smatch m;
  REQUIRE(std::regex_search(text, m, std::regex("Password: +(\\S+)")));
  PGconn* c = PQconnectdb(("host=127.0.0.1 port=" + std::to_string(port) +
                           " dbname=appdb user=x sslmode=require password=" + m[1].str())
                              .c_str());
  REQUIRE(PQstatus(c) == CONNECTION_OK);
  // A FATAL that arrives while the connection is idle reaches libpq's notice processor.
  std::string notices;
  PQsetNoticeProcessor(
      c, [](void* arg, const char* msg) { *static_cast<std::string*>(arg) += msg; }, &notices);
  CHECK(value(c, "select 'before'") == "before");

  // Readiness: the proxy's watch is waiting on the broker.
  int seen = -1;
  bool polling = wait_until([&] { return (seen = polls_waiting(b)) >= 1; }, 20s);
  INFO("awaited apono_event_polls_waiting >= 1, saw " << seen);
  REQUIRE(polling);

  const auto t0 = std::chrono::steady_clock::now();
  const int stopped = b.stop();
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  {
    INFO("aponod's output:\n" << b.log());
    CHECK(stopped == 0);
  }
  std::cout << "aponod exited " << took.count()
            << " ms after SIGTERM with apono access proxy's long-poll waiting\n";
#ifdef __SANITIZE_ADDRESS__
  CHECK(took < 5s);  // room for a sanitizer build on two busy cores
#else
  CHECK(took < 1s);
#endif

  // Without the broker the session goes on: the grant has not ended.
  CHECK(value(c, "select 'broker away'") == "broker away");
  CHECK(proxy.running());

  b.start();
  seen = -1;
  bool back = wait_until([&] { return (seen = polls_waiting(b)) >= 1; }, 30s);
  INFO("awaited the proxy's long-poll on the restarted broker, saw " << seen);
  REQUIRE(back);
  CHECK(value(c, "select 'after restart'") == "after restart");
  CHECK(proxy.running());

  // The watch carries the end again: a revoke on the restarted broker cuts the session. It is
  // timed by the FATAL reaching the idle client's socket.
  const int fd = PQsocket(c);
  std::vector<ending> all{{"the session through the proxy", [fd] {
                             pollfd p{fd, POLLIN, 0};
                             return ::poll(&p, 1, 0) == 1;
                           }}};
  auto watching = std::async(std::launch::async, [&] { watch_endings(all, 30s); });
  auto revoke = b.call("alice", "POST", "/api/v1/access-requests/" + id + "/revoke", "{}");
  watching.get();
  REQUIRE(revoke.status == 200);
  check_ended_within_1s(all, status_changed_at(b, id, "REVOKING"), "revoke after the restart");
  // PQconsumeInput only reads; PQisBusy parses what was read, the FATAL included, even once
  // the close has been seen.
  REQUIRE(wait_until(
      [&] {
        PQconsumeInput(c);
        (void)PQisBusy(c);
        return !notices.empty();
      },
      5s));
  INFO("notices: " << notices << "\nlibpq: " << PQerrorMessage(c));
  CHECK(notices.find("FATAL:  access " + id + " ended at") != std::string::npos);
  CHECK(notices.find("(it was revoked)") != std::string::npos);
  PQfinish(c);
  CHECK(proxy.wait(10s) == 3);
  CHECK(read_text(log).find("(it was revoked)") != std::string::npos);
}
