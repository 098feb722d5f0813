// The polling loop of watch_endings.
#include "tests/support/endings.hpp"

#include <thread>

namespace apono::test {

void watch_endings(std::vector<ending>& all, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  common::system_clock clock;
  while (std::chrono::steady_clock::now() < until) {
    bool open = false;
    for (auto& e : all) {
      if (e.at.time_since_epoch().count() == 0) {
        if (e.done()) {
          e.at = clock.now();
        } else {
          open = true;
        }
      }
    }
    if (!open) return;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

}  // namespace apono::test
