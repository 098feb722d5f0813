// The polling loop of watch_endings.
#include "tests/support/endings.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <thread>

namespace apono::test {

void watch_endings(std::vector<ending>& all, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  // One poller per ending, so a slow look at one (tmux capture-pane forks a client, which can
  // take a while on loaded cores) does not delay the stamps of the others.
  std::vector<std::thread> pollers;
  pollers.reserve(all.size());
  for (auto& e : all) {
    pollers.emplace_back([&e, until] {
      common::system_clock clock;
      while (std::chrono::steady_clock::now() < until) {
        // The start of the look that sees it ended: after the last look that saw it running,
        // and no later than the moment this one saw it ended.
        const auto looked = clock.now();
        if (e.done()) {
          e.at = looked;
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
      }
    });
  }
  for (auto& p : pollers) p.join();
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
