// The tmux pane tests drive like a person at a terminal.
#include "tests/support/tmux_pane.hpp"

#include <catch2/catch.hpp>

#include "tests/support/broker_fixture.hpp"

namespace apono::test {

using namespace std::chrono_literals;

tmux_pane::tmux_pane() : socket_((dir_.path / "tmux.sock").string()) {}

tmux_pane::~tmux_pane() {
  (void)run({"tmux", "-S", socket_, "kill-server"});
}

void tmux_pane::start(const std::string& command) {
  // -f /dev/null: no user config changes keys or sizes; env -u TMUX: works inside tmux too.
  // The command waits for an Enter sent once tmux answers for the pane at its final size:
  // a prompt drawn in the very first moments of a new pane was seen (rarely, under load) to
  // land a line away from where its erase went, a start-up race no real terminal has.
  auto r = run({"env", "-u", "TMUX", "tmux", "-S", socket_, "-f", "/dev/null", "new-session", "-d",
                "-x", "120", "-y", "40", "-s", "s", "read go; " + command});
  INFO(r.output);
  REQUIRE(r.status == 0);
  REQUIRE(wait_until(
      [&] {
        return run({"tmux", "-S", socket_, "display-message", "-p", "-t", "s",
                    "#{pane_width}x#{pane_height}"})
                   .output == "120x40\n";
      },
      30s));
  send("Enter");
}

void tmux_pane::send(const std::string& keys, bool literal) {
  std::vector<std::string> argv{"tmux", "-S", socket_, "send-keys", "-t", "s"};
  if (literal) argv.emplace_back("-l");
  argv.push_back(keys);
  auto r = run(argv);
  INFO(r.output);
  REQUIRE(r.status == 0);
}

void tmux_pane::resize(int cols, int rows) {
  auto r = run({"tmux", "-S", socket_, "resize-window", "-t", "s", "-x", std::to_string(cols), "-y",
                std::to_string(rows)});
  INFO(r.output);
  REQUIRE(r.status == 0);
  const std::string size = std::to_string(cols) + "x" + std::to_string(rows) + "\n";
  REQUIRE(wait_until(
      [&] {
        return run({"tmux", "-S", socket_, "display-message", "-p", "-t", "s",
                    "#{pane_width}x#{pane_height}"})
                   .output == size;
      },
      30s));
}

std::string tmux_pane::screen() {
  return run({"tmux", "-S", socket_, "capture-pane", "-p", "-J", "-t", "s", "-S", "-500"}).output;
}

std::string tmux_pane::wait_for(const std::string& text, std::chrono::milliseconds timeout) {
  std::string s;
  bool seen = wait_until(
      [&] {
        s = screen();
        return s.find(text) != std::string::npos;
      },
      timeout);
  INFO("waiting for: " << text << "\nscreen:\n" << s);
  REQUIRE(seen);
  return s;
}

}  // namespace apono::test
