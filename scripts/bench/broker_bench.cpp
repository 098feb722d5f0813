// Broker benchmark: requests created and granted per second with automatic approval against
// a local PostgreSQL, and the time to expire 1,000 grants that come due in the same second.
// Run through scripts/bench/broker; prints a Markdown table.
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <iostream>
#include <thread>
#include <vector>

#include "common/time.hpp"
#include "tests/support/broker_fixture.hpp"

using namespace apono;
using namespace std::chrono_literals;
namespace json = boost::json;
using steady = std::chrono::steady_clock;

namespace {

double secs(steady::duration d) {
  return std::chrono::duration<double>(d).count();
}

std::string body(const std::string& duration) {
  return json::serialize(json::object{{"integration", "pg-local"},
                                      {"resources", json::array{"appdb"}},
                                      {"permissions", json::array{"read_only"}},
                                      {"duration", duration},
                                      {"justification", "benchmark"}});
}

// Creates `n` requests from `threads` clients; `duration_for(i)` gives each one's duration.
std::vector<std::string> create_many(test::broker_fixture& b, int n, int threads,
                                     const std::function<std::string()>& duration_for,
                                     std::vector<double>& latencies_ms) {
  std::vector<std::string> ids(n);
  std::vector<std::vector<double>> lat(threads);
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      common::http_client c({b.url(), b.ca_file(), b.token(t % 2 ? "bob" : "alice"), 30s});
      for (int i; (i = next++) < n;) {
        auto t0 = steady::now();
        auto r = c.request("POST", "/api/v1/access-requests", body(duration_for()));
        lat[t].push_back(secs(steady::now() - t0) * 1000);
        if (r.status != 201) throw std::runtime_error("create failed: " + r.body);
        ids[i] = std::string(json::parse(r.body).at("id").as_string());
      }
    });
  for (auto& th : pool) th.join();
  for (auto& l : lat) latencies_ms.insert(latencies_ms.end(), l.begin(), l.end());
  return ids;
}

std::size_t count_status(test::broker_fixture& b, const std::string& status) {
  auto all = b.call("admin", "GET", "/api/v1/access-requests?scope=all");
  std::size_t n = 0;
  for (const auto& r : all.json.as_array()) n += r.at("status").as_string() == status.c_str();
  return n;
}

// Polls gently: listing every request is itself work for the broker being measured.
bool wait_for(const std::function<bool()>& pred, std::chrono::seconds timeout) {
  auto deadline = steady::now() + timeout;
  while (!pred()) {
    if (steady::now() > deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 1000;
  int threads = argc > 2 ? std::atoi(argv[2]) : 8;
  test::pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  pg.psql("CREATE TABLE t(id int)", "appdb");

  // 1. Throughput: n requests from `threads` clients, each granted by the scheduler.
  std::vector<double> lat;
  double create_s = 0, grant_s = 0;
  {
    test::broker_fixture b(pg);
    auto t0 = steady::now();
    auto ids = create_many(
        b, n, threads, [] { return std::string("1h"); }, lat);
    create_s = secs(steady::now() - t0);
    std::cerr << "created " << n << " in " << create_s << " s\n";
    if (!wait_for([&] { return count_status(b, "ACTIVE") == static_cast<std::size_t>(n); }, 300s))
      throw std::runtime_error("not all requests became ACTIVE");
    grant_s = secs(steady::now() - t0);
  }

  // 2. Expiry: n grants, all due at the same instant. The broker is stopped before the first
  // end and started after the last, so at start every one of them is due at once: the worst
  // case, and the crash-recovery path. Measured from the restart to all EXPIRED and to no
  // apono_ role left at the target.
  double restart_ready_s = 0, expire_s = 0, roles_gone_s = 0;
  {
    test::pg_fixture pg2;
    pg2.psql("CREATE DATABASE appdb");
    test::broker_fixture b(pg2);
    std::vector<double> ignore;
    create_many(
        b, n, threads, [] { return std::string("2m"); }, ignore);
    if (!wait_for([&] { return count_status(b, "ACTIVE") == static_cast<std::size_t>(n); }, 300s))
      throw std::runtime_error("not all requests became ACTIVE");
    auto all = b.call("admin", "GET", "/api/v1/access-requests?scope=all");
    common::time_point last{};
    for (const auto& r : all.json.as_array())
      last = std::max(last, *common::parse_rfc3339(r.at("ends_at").as_string()));
    if (b.stop() != 0) throw std::runtime_error("aponod did not stop cleanly");
    while (common::system_clock{}.now() < last + 1s) std::this_thread::sleep_for(50ms);
    auto t0 = steady::now();
    b.start();
    restart_ready_s = secs(steady::now() - t0);
    if (!wait_for([&] { return count_status(b, "EXPIRED") == static_cast<std::size_t>(n); }, 300s))
      throw std::runtime_error("not all grants expired");
    expire_s = secs(steady::now() - t0);
    wait_for(
        [&] {
          return pg2.psql("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'apono\\_%'") == "0";
        },
        60s);
    roles_gone_s = secs(steady::now() - t0);
  }

  std::cout << "| figure | value |\n|---|---|\n";
  std::cout << "| requests | " << n << " from " << threads << " concurrent clients |\n";
  std::cout << "| created per second (API, 201) | " << std::lround(n / create_s) << " |\n";
  std::cout << "| create latency p50 / p99 | " << percentile(lat, 0.5) << " ms / "
            << percentile(lat, 0.99) << " ms |\n";
  std::cout << "| created and ACTIVE per second (role at the target) | " << std::lround(n / grant_s)
            << " |\n";
  std::cout << "| restart with " << n << " grants due at once -> ready | " << restart_ready_s
            << " s |\n";
  std::cout << "| restart -> all " << n << " EXPIRED (roles dropped, sessions ended) | " << expire_s
            << " s |\n";
  std::cout << "| restart -> no apono_ role left at the target | " << roles_gone_s << " s |\n";
}
