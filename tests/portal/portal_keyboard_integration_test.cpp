// The portal with the keyboard alone (issue 15, must show 5) in a real browser against a real
// aponod and PostgreSQL: the new-request flow, then an approval and a rejection.
#include <catch2/catch.hpp>

#include "tests/portal/catalog_stack.hpp"
#include "tests/support/browser_scenario.hpp"

using namespace apono::test;

TEST_CASE("portal: a request made and another approved and rejected with the keyboard alone") {
  catalog_stack s;
  run_scenario("keyboard", *s.b, s.pg);
}
