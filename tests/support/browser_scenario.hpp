// Runs one browser scenario of web/e2e/ (Debian's Chromium driven by playwright-core) against a
// running aponod and PostgreSQL. Each portal suite is its own test file, so ctest runs them side
// by side and no one file nears its time limit.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "tests/support/broker_fixture.hpp"
#include "tests/support/pg_fixture.hpp"

namespace apono::test {

/// The front end's source folder (web/), where the scenarios and their node_modules live.
std::filesystem::path web_dir();

/// Runs `node web/e2e/run.mjs NAME` against `b` and `pg` with `extra_env` added; CHECKs that it
/// passed, printing its output either way (the figures it measured when it passed).
void run_scenario(const std::string& name, const broker_fixture& b, const pg_fixture& pg,
                  const std::map<std::string, std::string>& extra_env = {});

}  // namespace apono::test
