// Browser scenarios: the environment web/e2e/lib.mjs reads, and the verdict from node's status.
#include "tests/support/browser_scenario.hpp"

#include <catch2/catch.hpp>

#include <iostream>

#include "tests/support/process.hpp"

namespace apono::test {

std::filesystem::path web_dir() {
  return std::filesystem::path(APONO_SOURCE_DIR) / "web";
}

void run_scenario(const std::string& name, const broker_fixture& b, const pg_fixture& pg,
                  const std::map<std::string, std::string>& extra_env) {
  REQUIRE(std::filesystem::exists(web_dir() / "node_modules" / "playwright-core"));
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
  for (const auto& [k, v] : extra_env) env[k] = v;
  auto r = run({"node", (web_dir() / "e2e" / "run.mjs").string(), name}, {}, env,
               std::chrono::seconds{240});
  INFO("scenario " << name << " (status " << r.status << "):\n" << r.output);
  CHECK(r.status == 0);
  if (r.status == 0) {
    std::cout << r.output;
    std::filesystem::remove_all(out);
  }
}

}  // namespace apono::test
