// Issue 18, must show 1 and 5, with the official MCP TypeScript SDK client
// (tests/mcp/protocol.mjs), and the secrets scan of every message it exchanged (must show 6).
#include "tests/support/mcp_scenario.hpp"

#include <catch2/catch.hpp>

using namespace apono::test;

TEST_CASE("apono mcp: version negotiation, tools and their schemas, errors, the raw pipe") {
  mcp_stack s;
  run_mcp_scenario("protocol", s);
}
