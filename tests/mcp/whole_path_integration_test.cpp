// Issue 18, must show 2, with the official MCP TypeScript SDK client
// (tests/mcp/whole_path.mjs), and the secrets scan of every message it exchanged (must show 6).
#include "tests/support/mcp_scenario.hpp"

#include <catch2/catch.hpp>

using namespace apono::test;

TEST_CASE("apono mcp: catalog, request, wait, instructions, query, revoke, refused after") {
  mcp_stack s;
  run_mcp_scenario("whole_path", s);
}
