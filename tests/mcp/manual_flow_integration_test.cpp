// Issue 18, must show 3, with the official MCP TypeScript SDK client
// (tests/mcp/manual_flow.mjs), and the secrets scan of every message it exchanged (must show 6).
#include "tests/support/mcp_scenario.hpp"

#include <catch2/catch.hpp>

using namespace apono::test;

TEST_CASE("apono mcp: wait_for_access with progress while PENDING, then ACTIVE after approval") {
  mcp_stack s;
  run_mcp_scenario("manual_flow", s);
}
