// Must show 7 of the portal in a real browser: the first load's compressed JS and CSS within
// 300 KB, and My requests with 1,000 requests interactive. The 1-s target itself is held by
// scripts/bench/portal on a quiet machine (docs/benchmarks.md); here, beside the other suites
// in a sanitizer build, the bound is looser so the suite passes every time.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/browser_scenario.hpp"
#include "tests/support/pg_fixture.hpp"

using namespace apono::test;

TEST_CASE("portal: first-load bytes within budget, My requests with 1,000 requests interactive") {
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  broker_fixture b(pg);
  // scripts/bench/portal sets the target's own bound (and the number of runs) for its runs.
  const char* bound = std::getenv("APONO_E2E_INTERACTIVE_MS");
  run_scenario("budget", b, pg, {{"APONO_E2E_INTERACTIVE_MS", bound ? bound : "3000"}});
}
