// Must show 3 of the portal in a real browser: a selection spanning two access flows, "Copy as
// CLI" run by a shell with the real `apono` signed in as alice, and a bulk approval.
#include <catch2/catch.hpp>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/browser_scenario.hpp"
#include "tests/support/cli_fixture.hpp"
#include "tests/support/pg_fixture.hpp"

using namespace apono::test;

TEST_CASE("portal: two flows make two requests, the copied CLI makes the same, a bulk approval") {
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  broker_fixture b(pg);
  cli_fixture cli;
  auto in = cli.apono({"login", "--server", b.url(), "--ca-file", b.ca_file().string(), "--token",
                       b.token("alice")});
  INFO(in.out << in.err);
  REQUIRE(in.status == 0);
  run_scenario("flows", b, pg,
               {{"APONO_CLI", APONO_BINARY},
                {"APONO_CLI_HOME", cli.home().string()},
                {"APONO_CLI_CONFIG", cli.config_dir().parent_path().string()}});
}
