// Issue 18, must show 4, with the official MCP TypeScript SDK client
// (tests/mcp/elicitation.mjs), and the secrets scan of every message it exchanged (must show 6).
#include "tests/support/mcp_scenario.hpp"

#include <catch2/catch.hpp>

using namespace apono::test;

TEST_CASE("apono mcp: the user confirms, declines, or the client cannot ask") {
  mcp_stack s;
  run_mcp_scenario("elicitation", s);
}
