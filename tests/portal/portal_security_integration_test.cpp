// Must show 4 of the portal in a real browser: cookie flags, CSP, cross-site POSTs, markup in a
// justification, credentials once hidden, and the old cookie after sign-out and after idle expiry.
#include <catch2/catch.hpp>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/browser_scenario.hpp"
#include "tests/support/pg_fixture.hpp"

using namespace apono::test;

TEST_CASE("portal: cookie, CSP, cross-site POSTs, markup as text, hidden credentials, sign-out") {
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  broker_fixture b(pg);
  run_scenario("security", b, pg);
}

TEST_CASE("portal: a session unused for the idle limit is refused and the portal says so") {
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  broker_fixture b(pg, {"--portal-idle-timeout", "3s"});
  run_scenario("idle", b, pg, {{"APONO_IDLE_SECONDS", "3"}});
}
