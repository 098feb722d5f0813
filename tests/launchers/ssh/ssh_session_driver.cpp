// run_ssh as a program, so that tests can drive the built-in SSH client in a real terminal:
//   ssh_session_driver HOST PORT USER KEY_FILE CERT_FILE KNOWN_HOSTS_FILE
//                      [--end-in SECONDS | --end-at UNIX_MS] [--ready-signal]
//                      [--pid-file PATH] [-- COMMAND...]
// --end-in / --end-at give the session a grant (AR-00077) that ends then; with --ready-signal
// the grant's clock stands still until the driver gets SIGUSR1, so a test starts the grant's
// time when it has seen the session ready. --pid-file writes the driver's pid (for tests that
// signal it). Prints a thrown error as "Error: ..." and exits 1; otherwise exits with run_ssh's
// status (or dies by the signal that ended the session).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/time.hpp"
#include "launchers/ssh/ssh_session.hpp"
#include "proxy/grant_clock.hpp"
#include "proxy/grant_watch.hpp"
#include "tests/support/ready_clock.hpp"

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int usage() {
  std::fputs(
      "usage: ssh_session_driver HOST PORT USER KEY_FILE CERT_FILE KNOWN_HOSTS_FILE\n"
      "                          [--end-in SECONDS | --end-at UNIX_MS] [--ready-signal]\n"
      "                          [--pid-file PATH] [-- COMMAND...]\n",
      stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() < 6) return usage();
  try {
    apono::launchers::ssh_options o;
    o.host = args[0];
    o.port = std::stoi(args[1]);
    o.user = args[2];
    o.private_key = read_file(args[3]);
    o.certificate = read_file(args[4]);
    o.known_hosts = read_file(args[5]);

    // Before any option: a test may send SIGUSR1 as soon as the pid file exists.
    const auto options_end = std::find(args.begin() + 6, args.end(), "--");
    const bool ready_signal =
        std::find(args.begin() + 6, options_end, "--ready-signal") != options_end;
    apono::common::system_clock wall;
    apono::test::ready_clock held;
    if (ready_signal) {
      // Taken by a thread of its own with sigwait, not a handler, so no call of the session's
      // is interrupted by it; every thread started later inherits the blocked mask.
      sigset_t usr1;
      ::sigemptyset(&usr1);
      ::sigaddset(&usr1, SIGUSR1);
      ::pthread_sigmask(SIG_BLOCK, &usr1, nullptr);
      std::thread([&held, usr1] {
        int sig = 0;
        if (::sigwait(&usr1, &sig) == 0) held.release();
      }).detach();
    }
    const apono::common::clock& clock =
        ready_signal ? static_cast<const apono::common::clock&>(held) : wall;
    std::unique_ptr<apono::proxy::grant_watch> watch;
    std::unique_ptr<apono::proxy::grant_clock> deadline;  // as the CLI runs it
    for (std::size_t i = 6; i < args.size(); ++i) {
      if (args[i] == "--") {
        o.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
        break;
      }
      if (args[i] == "--ready-signal") continue;
      if (i + 1 >= args.size()) return usage();
      if (args[i] == "--pid-file") {
        std::ofstream(args[++i]) << ::getpid() << "\n";
        continue;
      }
      apono::common::time_point ends;
      if (args[i] == "--end-in") {
        ends = clock.now() +
               std::chrono::milliseconds(static_cast<long long>(std::stod(args[i + 1]) * 1000));
      } else if (args[i] == "--end-at") {
        ends = apono::common::from_unix_ms(std::stoll(args[i + 1]));
      } else {
        return usage();
      }
      watch = std::make_unique<apono::proxy::grant_watch>("AR-00077", ends, clock);
      deadline = std::make_unique<apono::proxy::grant_clock>(
          *watch, std::vector<std::chrono::milliseconds>{}, apono::proxy::warning_handler{});
      ++i;
    }
    o.watch = watch.get();
    return apono::launchers::run_ssh(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "Error: %s\n", e.what());
    return 1;
  }
}
