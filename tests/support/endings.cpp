// Watching endings side by side, reading the time a pane reports, and checking a grant's margin.
#include "tests/support/endings.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <memory>
#include <regex>
#include <thread>

namespace apono::test {

ending pane_exit(std::string name, tmux_pane& pane) {
  auto seen = std::make_shared<std::string>();
  return {std::move(name),
          [&pane, seen] {
            *seen = pane.screen();
            return seen->find("EXIT=") != std::string::npos;
          },
          [seen]() -> std::optional<common::time_point> {
            std::smatch m;
            if (!std::regex_search(*seen, m, std::regex("EXIT=[0-9]+ AT=([0-9]+)"))) return {};
            return common::from_unix_ms(std::stoll(m[1]));
          }};
}

void watch_endings(std::vector<ending>& all, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  // One poller per ending, so a slow look at one does not delay the others' stamps.
  std::vector<std::thread> pollers;
  pollers.reserve(all.size());
  for (auto& e : all) {
    pollers.emplace_back([&e, until] {
      common::system_clock clock;
      while (std::chrono::steady_clock::now() < until) {
        if (e.done()) {
          // Without a report: when the look returned, which is no earlier than the end.
          const auto seen = clock.now();
          const auto reported = e.reported ? e.reported() : std::nullopt;
          e.at = reported.value_or(seen);
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
      }
    });
  }
  for (auto& p : pollers) p.join();
}

void check_ended_within_1s(const std::vector<ending>& all, common::time_point from,
                           const std::string& what,
                           std::optional<std::chrono::milliseconds> early) {
  for (const auto& e : all) {
    INFO(what << " -> " << e.name);
    REQUIRE(e.at.time_since_epoch().count() != 0);  // it never ended
    std::printf("%s -> %s ended: %lld ms\n", what.c_str(), e.name.c_str(),
                static_cast<long long>((e.at - from).count()));
    if (early) CHECK(e.at >= from - *early);
    CHECK(e.at - from < std::chrono::seconds{1});
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
