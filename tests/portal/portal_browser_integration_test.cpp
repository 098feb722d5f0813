// The web portal in a real browser (Debian's Chromium driven by playwright-core) against a real
// aponod and PostgreSQL: each case starts both, then runs one scenario of web/e2e/ with node.
#include <catch2/catch.hpp>

#include <filesystem>
#include <iostream>
#include <map>
#include <string>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/process.hpp"

using namespace apono::test;

namespace {

const std::filesystem::path web_dir = std::filesystem::path(APONO_SOURCE_DIR) / "web";

// Runs web/e2e/NAME.mjs against `b`; its output is printed, and its exit status is the result.
void run_scenario(const std::string& name, const broker_fixture& b, const pg_fixture& pg) {
  REQUIRE(std::filesystem::exists(web_dir / "node_modules" / "playwright-core"));
  // Kept for a look when the scenario fails (named in its output), removed when it passes.
  const auto out = make_temp_dir("apono-e2e-" + name);
  std::map<std::string, std::string> env{
      {"APONO_URL", b.url()},
      {"APONO_DEV_CREDENTIALS", (b.data_dir() / "dev-credentials.json").string()},
      {"APONO_PG_HOST", "127.0.0.1"},
      {"APONO_PG_PORT", std::to_string(pg.port())},
      // node's own fetch (the scenario's API calls) trusts the broker's dev CA.
      {"NODE_EXTRA_CA_CERTS", b.ca_file().string()},
      // Screenshots of the pages open when a scenario fails.
      {"APONO_E2E_OUT", out.string()},
  };
  auto r = run({"node", (web_dir / "e2e" / "run.mjs").string(), name}, {}, env,
               std::chrono::seconds{240});
  INFO("scenario " << name << " (status " << r.status << "):\n" << r.output);
  CHECK(r.status == 0);
  if (r.status == 0) {
    std::cout << r.output;  // the figures the scenario measured
    std::filesystem::remove_all(out);
  }
}

}  // namespace

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
