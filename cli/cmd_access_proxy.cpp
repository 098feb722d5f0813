// `apono access proxy ID`: the local proxy alone, for GUI tools and anything else that
// speaks PostgreSQL. TCP only on 127.0.0.1 and only with the one-time password it prints,
// TLS for clients that ask (verify-full against the local CA whose path it prints);
// Ctrl-C closes everything; when access ends it says so and exits with status 3.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <memory>
#include <mutex>
#include <ostream>

#include "cli/api_client.hpp"
#include "cli/commands.hpp"
#include "cli/instructions.hpp"
#include "cli/local_access.hpp"
#include "cli/output.hpp"
#include "common/model.hpp"
#include "common/time.hpp"
#include "launchers/shell/shell.hpp"

namespace apono::cli {

namespace {

struct proxy_command_options {
  std::string id;
  int port = 0;
  std::string unix_dir;
  std::string database;
};

// Blocks the stop signals for the whole process (threads started later inherit the mask)
// and hands them out through a descriptor the wait loop can poll.
class stop_signals {
 public:
  stop_signals() {
    sigemptyset(&set_);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set_, s);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    fd_ = ::signalfd(-1, &set_, SFD_CLOEXEC);
  }
  ~stop_signals() {
    if (fd_ >= 0) ::close(fd_);
    // A signal still pending would be delivered the moment the mask is lifted and kill the
    // process that was shutting down cleanly because of it.
    timespec zero{};
    while (sigtimedwait(&set_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  stop_signals(const stop_signals&) = delete;
  stop_signals& operator=(const stop_signals&) = delete;
  [[nodiscard]] int fd() const { return fd_; }

 private:
  sigset_t set_{}, old_{};
  int fd_ = -1;
};

void run_proxy(const proxy_command_options& o, const global_options& g, io& streams) {
  if (o.port < 0 || o.port > 65535) throw usage_error("--port must be between 0 and 65535");
  stop_signals signals;
  auto log_mutex = std::make_shared<std::mutex>();
  std::ostream& err = streams.err;
  local_access_options lo{o.id, o.database, o.unix_dir, o.port, {}};
  lo.log = [log_mutex, &err](const std::string& line) {
    std::lock_guard lock(*log_mutex);
    err << local_time(common::format_rfc3339(common::system_clock().now()), "%H:%M:%S") << " "
        << line << std::endl;
  };
  local_access session(g, lo);
  const auto& u = session.unit();
  const auto& pw = session.tcp_password();
  auto port = session.proxy().tcp_port();
  auto ends = common::format_rfc3339(session.details().ends_at);

  common::unit_credentials local = u;
  local.host = "127.0.0.1";
  local.port = port;
  local.password = pw;
  local.sslmode = "verify-full";
  const auto root = session.tls_root().string();
  {
    std::lock_guard lock(*log_mutex);
    auto& out = streams.out;
    out << "Proxy for " << session.details().request_id << " (" << u.database << " on "
        << u.integration << ") until " << valid_until(ends) << ".\n\n";
    out << "  Host:      127.0.0.1\n";
    out << "  Port:      " << port << "\n";
    out << "  Database:  " << u.database << "\n";
    out << "  User:      " << u.username << "\n";
    out << "  Password:  " << pw << "  (one-time, for this proxy only)\n";
    out << "  SSL mode:  verify-full  (or any other: TLS is offered, not required; the proxy\n"
        << "             encrypts towards the server as " << u.sslmode << " says)\n";
    out << "  Root cert: " << root << "  (sslrootcert, the local CA of apono)\n";
    out << "  URL:       " << common::postgres_uri(local) << "&sslrootcert=" << url_encode(root)
        << "\n";
    out << "  Socket:    psql "
        << shell_quote("host=" + session.socket_dir().string() + " port=5432 dbname=" + u.database +
                       " user=" + u.username)
        << "\n\n";
    out << "Press Ctrl-C to stop. Connections are cut when access ends.\n" << std::flush;
  }

  pollfd fds[2] = {{signals.fd(), POLLIN, 0}, {session.watch().wait_fd(), POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) break;
    if (session.watch().ended()) {
      // Give the proxy a moment to deliver the FATAL before everything closes: longer than the
      // 500 ms a session in the middle of a server message gets to reach a message boundary.
      ::usleep(600000);
      std::lock_guard lock(*log_mutex);
      err << session.watch().message() << std::endl;
      throw exit_status(launchers::exit_access_ended);
    }
  }
  std::lock_guard lock(*log_mutex);
  err << "Proxy stopped." << std::endl;
}

}  // namespace

void setup_access_proxy(CLI::App& access, global_options& g, io& streams) {
  auto o = std::make_shared<proxy_command_options>();
  auto* cmd = access.add_subcommand(
      "proxy", "run the local proxy alone, for GUI tools; stops when access ends");
  cmd->add_option("id", o->id, "request id, e.g. AR-00012")->required();
  cmd->add_option("--port", o->port, "TCP port on 127.0.0.1 (0: any free port)")
      ->capture_default_str();
  cmd->add_option("--unix-dir", o->unix_dir,
                  "directory for the unix socket (must be yours, 0700; default: a private one)");
  cmd->add_option("--db", o->database, "default database (default: the grant's first)");
  cmd->callback([o, &g, &streams] { run_proxy(*o, g, streams); });
}

}  // namespace apono::cli
