// The web portal in a real browser (Debian's Chromium driven by playwright-core) against a real
// aponod and PostgreSQL: each case starts both, then runs one scenario of web/e2e/ with node.
#include <catch2/catch.hpp>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/browser_scenario.hpp"
#include "tests/support/pg_fixture.hpp"

using namespace apono::test;

TEST_CASE("portal: an automatic grant requested, used, and revoked in the browser") {
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  broker_fixture b(pg);
  run_scenario("automatic", b, pg);
}

TEST_CASE("portal: a manual grant approved in a second browser, a rejection, a request again") {
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  broker_fixture b(pg);
  run_scenario("manual", b, pg);
}
