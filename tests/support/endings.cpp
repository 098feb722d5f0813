// The polling loop of watch_endings.
#include "tests/support/endings.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <thread>

namespace apono::test {

void watch_endings(std::vector<ending>& all, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  common::system_clock clock;
  while (std::chrono::steady_clock::now() < until) {
    bool open = false;
    // Stamped before the look: a check that forks (tmux capture-pane) can take a while under
    // load, and what it sees ended had ended by then, not after it returned.
    const auto looked = clock.now();
    for (auto& e : all) {
      if (e.at.time_since_epoch().count() == 0) {
        if (e.done()) {
          e.at = looked;
        } else {
          open = true;
        }
      }
    }
    if (!open) return;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

void require_before_end(const std::string& what, common::time_point end,
                        std::chrono::milliseconds margin) {
  const auto before = end - common::system_clock().now();
  std::printf("%s: %lld ms before the grant's end\n", what.c_str(),
              static_cast<long long>(before.count()));
  INFO(what << " was done " << before.count() << " ms before the grant's end; the test needs "
            << margin.count() << " ms of it to check the cut (a longer grant, or a less loaded "
            << "machine)");
  REQUIRE(before >= margin);
}

}  // namespace apono::test
