// The portal's accessibility (issue 15, must show 5) at 1280x800 in a real browser against a
// real aponod and PostgreSQL: axe-core on every screen, light and dark.
#include <catch2/catch.hpp>

#include "tests/portal/catalog_stack.hpp"
#include "tests/support/browser_scenario.hpp"

using namespace apono::test;

TEST_CASE(
    "portal: axe finds nothing serious or critical on any screen at 1280x800, light and dark") {
  catalog_stack s;
  run_scenario("accessibility", *s.b, s.pg, {{"APONO_A11Y_SIZES", "desktop"}});
}
