// The proxy's listeners, its one I/O thread, and the grant's clock: warnings before the end,
// the cut at the end (or when a revoke ends the watch early).
#include "proxy/server.hpp"

#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "proxy/grant_clock.hpp"
#include "proxy/pg/encoder.hpp"
#include "proxy/relay_loop.hpp"

namespace apono::proxy {

namespace fs = std::filesystem;
using generic_acceptor = net::basic_socket_acceptor<net::generic::stream_protocol>;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

std::string mode_text(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

}  // namespace

void ensure_socket_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) throw std::runtime_error("cannot create " + dir.string() + ": " + ec.message());
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw std::runtime_error(dir.string() + " is not a directory");
  if (st.st_uid != ::geteuid())
    throw std::runtime_error(dir.string() + " belongs to another user; use a directory of yours");
  // Anyone who can reach the socket rides the grant, so the directory must be private.
  if ((st.st_mode & 077) != 0)
    throw std::runtime_error(dir.string() + " is open to other users (mode " +
                             mode_text(st.st_mode) + "); use a 0700 directory");
}

namespace {

// The local listener's TLS: TLS 1.2 and later, as PostgreSQL 15's ssl_min_protocol_version.
std::shared_ptr<net::ssl::context> make_local_tls(const proxy_options& o) {
  auto tls = std::make_shared<net::ssl::context>(net::ssl::context::tls_server);
  boost::system::error_code ec;
  tls->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                       net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                       net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use,
                   ec);
  if (!ec) tls->use_certificate_chain(net::buffer(o.tls_cert_pem), ec);
  if (!ec) tls->use_private_key(net::buffer(o.tls_key_pem), net::ssl::context::pem, ec);
  if (ec) throw std::runtime_error("cannot set up TLS for the local listener: " + ec.message());
  return tls;
}

}  // namespace

// Reached from grant_watch callbacks, which may outlive the proxy: they hold this, and
// stop() detaches it.
struct proxy_link {
  std::mutex mutex;
  net::io_context* ioc = nullptr;
  std::function<void()> on_end;
};

struct proxy_server::impl {
  impl(proxy_options o, grant_watch& w)
      : options(std::move(o)), watch(w), ioc(1), link(std::make_shared<proxy_link>()) {}

  proxy_options options;
  grant_watch& watch;
  net::io_context ioc;
  proxy_context ctx;
  std::optional<generic_acceptor> unix_acceptor, tcp_acceptor;
  std::optional<grant_clock> clock;
  // After ioc: it posts the ends of relays there, so it must stop before ioc goes.
  std::optional<relay_loop> relay;
  std::thread thread;
  fs::path socket_path;
  int bound_port = 0;
  std::atomic<bool> started{false}, finished{false}, stopping{false};
  std::shared_ptr<proxy_link> link;

  void listen() {
    ctx.upstream = options.upstream;
    ctx.tls = make_upstream_tls(options.upstream);
    ctx.tcp_password = options.tcp_password;
    ctx.watch = &watch;
    ctx.log = options.log;
    if (!options.tls_cert_pem.empty()) ctx.client_tls = make_local_tls(options);
    if (options.upstream.logins.empty()) throw std::runtime_error("the grant has no database");
    // APONO_PROXY_RELAY=asio keeps every session on the Asio relay: the same binary then
    // measures both relays side by side (scripts/bench/proxy).
    if (const char* r = std::getenv("APONO_PROXY_RELAY");
        r == nullptr || std::strcmp(r, "asio") != 0) {
      relay.emplace(ioc);
      ctx.relay = &*relay;
    }
    if (!options.unix_dir.empty()) {
      ensure_socket_dir(options.unix_dir);
      socket_path = options.unix_dir / (".s.PGSQL." + std::to_string(options.socket_port));
      std::error_code fec;
      if (fs::is_socket(fs::symlink_status(socket_path, fec))) fs::remove(socket_path, fec);
      boost::system::error_code ec;
      net::local::stream_protocol::endpoint lep(socket_path.string());
      net::generic::stream_protocol::endpoint ep(lep);
      unix_acceptor.emplace(ioc);
      unix_acceptor->open(ep.protocol(), ec);
      if (!ec) unix_acceptor->bind(ep, ec);
      if (!ec) unix_acceptor->listen(net::socket_base::max_listen_connections, ec);
      if (ec)
        throw std::runtime_error("cannot listen on " + socket_path.string() + ": " + ec.message());
      ::chmod(socket_path.c_str(), 0600);
    }
    if (options.tcp_port) {
      if (options.tcp_password.empty())
        throw std::runtime_error("a TCP listener needs a one-time password");
      boost::system::error_code ec;
      net::ip::tcp::endpoint tep(net::ip::address_v4::loopback(),
                                 static_cast<unsigned short>(*options.tcp_port));
      net::generic::stream_protocol::endpoint ep(tep);
      tcp_acceptor.emplace(ioc);
      tcp_acceptor->open(ep.protocol(), ec);
      if (!ec) tcp_acceptor->set_option(net::socket_base::reuse_address(true), ec);
      if (!ec) tcp_acceptor->bind(ep, ec);
      if (!ec) tcp_acceptor->listen(net::socket_base::max_listen_connections, ec);
      if (ec) {
        throw std::runtime_error("cannot listen on 127.0.0.1:" + std::to_string(*options.tcp_port) +
                                 ": " + ec.message());
      }
      auto local = tcp_acceptor->local_endpoint(ec);
      if (!ec) bound_port = ntohs(reinterpret_cast<const sockaddr_in*>(local.data())->sin_port);
    }
  }

  net::awaitable<void> accept_loop(generic_acceptor& acceptor, bool tcp) {
    net::steady_timer backoff(ioc);
    for (;;) {
      auto [ec, sock] = co_await acceptor.async_accept(use_tuple);
      if (stopping || ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
      if (ec) {
        // Out of descriptors or similar: the listener stays, and tries again shortly.
        if (options.log) options.log("accept failed: " + ec.message());
        backoff.expires_after(50ms);
        co_await backoff.async_wait(use_tuple);
        continue;
      }
      if (tcp) {
        boost::system::error_code ignored;
        sock.set_option(net::ip::tcp::no_delay(true), ignored);
      }
      auto s = std::make_shared<session>(ctx, std::move(sock), tcp);
      ctx.sessions.insert(s);
      net::co_spawn(ioc, s->run(), net::detached);
    }
  }

  void broadcast_warning(std::chrono::milliseconds w) {
    std::string bytes;
    pg::append_notice(bytes, pg::make_fields("WARNING", "01000", watch.warning(w)));
    if (options.log) options.log(watch.warning(w));
    auto all = ctx.sessions;  // a notice can end a session and change the set
    std::optional<relay_loop::batch> together;
    if (relay) together.emplace(*relay);
    for (const auto& s : all) s->notify(bytes);
  }

  void cut_all() {
    std::string bytes;
    pg::append_error(bytes, pg::make_fields("FATAL", "57P01", watch.message()));
    if (options.log) options.log(watch.message());
    auto all = ctx.sessions;
    // Every session ends at the same instant: none relays a query after another was cut.
    std::optional<relay_loop::batch> together;
    if (relay) together.emplace(*relay);
    for (const auto& s : all) s->cut(bytes);
  }

  void close_everything() {
    boost::system::error_code ignored;
    if (unix_acceptor) unix_acceptor->close(ignored);
    if (tcp_acceptor) tcp_acceptor->close(ignored);
    auto all = ctx.sessions;
    for (const auto& s : all) s->close_all();
  }
};

proxy_server::proxy_server(proxy_options options, grant_watch& watch)
    : impl_(std::make_unique<impl>(std::move(options), watch)) {}

proxy_server::~proxy_server() {
  stop();
}

void proxy_server::start() {
  auto& m = *impl_;
  if (m.started.exchange(true)) return;
  m.listen();
  if (m.unix_acceptor) net::co_spawn(m.ioc, m.accept_loop(*m.unix_acceptor, false), net::detached);
  if (m.tcp_acceptor) net::co_spawn(m.ioc, m.accept_loop(*m.tcp_acceptor, true), net::detached);
  m.link->ioc = &m.ioc;
  m.link->on_end = [&m] { m.cut_all(); };
  m.watch.on_end([link = m.link] {
    std::lock_guard lock(link->mutex);
    if (link->ioc) net::post(*link->ioc, link->on_end);
  });
  m.thread = std::thread([&m] {
    m.ioc.run();
    m.finished = true;
  });
  // Started last: a grant already over ends the watch at once, and the link must be ready.
  m.clock.emplace(m.watch, m.options.warnings, [&m](std::chrono::milliseconds w) {
    std::lock_guard lock(m.link->mutex);
    if (m.link->ioc) net::post(*m.link->ioc, [&m, w] { m.broadcast_warning(w); });
  });
}

void proxy_server::stop() {
  auto& m = *impl_;
  if (!m.started || m.stopping.exchange(true)) return;
  m.clock.reset();
  {
    std::lock_guard lock(m.link->mutex);
    m.link->ioc = nullptr;
  }
  net::post(m.ioc, [&m] { m.close_everything(); });
  // Closing lets every coroutine finish; one stuck in a slow upstream connect is not waited
  // for long.
  for (int i = 0; i < 200 && !m.finished; ++i) std::this_thread::sleep_for(5ms);
  if (!m.finished) m.ioc.stop();
  if (m.thread.joinable()) m.thread.join();
  std::error_code ec;
  if (!m.socket_path.empty()) fs::remove(m.socket_path, ec);
}

int proxy_server::tcp_port() const {
  return impl_->bound_port;
}

fs::path proxy_server::socket_path() const {
  return impl_->socket_path;
}

const proxy_counters& proxy_server::counters() const {
  return impl_->ctx.counters;
}

}  // namespace apono::proxy
