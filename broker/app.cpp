// Wiring of aponod. The io_context runs on a few threads because some API calls (credential
// reset) wait on a target; everything shared is thread-safe. The scheduler and the notification
// dispatcher run beside the API, each woken by every committed change.
#include "broker/app.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <charconv>
#include <thread>

#include "broker/api/router.hpp"
#include "broker/config_holder.hpp"
#include "broker/event_hub.hpp"
#include "broker/http/server.hpp"
#include "broker/metrics.hpp"
#include "broker/notify/dispatcher.hpp"
#include "broker/notify/email/email_channel.hpp"
#include "broker/notify/slack/slack_channel.hpp"
#include "broker/notify/teams/teams_channel.hpp"
#include "broker/notify/webhook/webhook_channel.hpp"
#include "broker/provision/aws_provisioner.hpp"
#include "broker/provision/kubernetes_provisioner.hpp"
#include "broker/provision/postgres_provisioner.hpp"
#include "broker/provision/ssh_provisioner.hpp"
#include "broker/scheduler.hpp"
#include "broker/service.hpp"
#include "broker/slack/app.hpp"
#include "broker/store/open_store.hpp"
#include "broker/tls/certificates.hpp"
#include "common/secrets.hpp"

namespace apono::broker {

namespace net = boost::asio;

std::pair<std::string, std::uint16_t> split_listen(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size())
    throw std::invalid_argument("listen address must be HOST:PORT, got '" + listen + "'");
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  auto ps = std::string_view(listen).substr(colon + 1);
  auto [p, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
  if (ec != std::errc{} || p != ps.data() + ps.size() || port > 65535)
    throw std::invalid_argument("listen address must be HOST:PORT, got '" + listen + "'");
  return {host, static_cast<std::uint16_t>(port)};
}

namespace {

// The data dir, made private, with what a kill -9 during a write left behind removed; then
// the store.
std::unique_ptr<store> open_data(const config& cfg) {
  const auto& dir = cfg.server.data_dir;
  common::ensure_private_dir(dir);
  if (auto n = common::remove_abandoned_temp_files(dir))
    spdlog::info("removed {} temporary file(s) left in {} by an interrupted write", n,
                 dir.string());
  auto st = open_store(cfg.store, load_store_keys(cfg.store, dir));
  spdlog::info("store: {}",
               cfg.store.type == "sqlite" ? cfg.store.path.string() : std::string("postgresql"));
  // Secrets stored before encryption at rest, or under a key since replaced.
  if (auto n = st->reseal_secrets())
    spdlog::info("store: sealed {} unit secret(s) with the current key", n);
  return st;
}

}  // namespace

struct app::impl {
  explicit impl(std::shared_ptr<const config> cfg)
      : holder(cfg),
        data_dir(cfg->server.data_dir),
        store_ptr(open_data(*cfg)),
        st(*store_ptr),
        ssh_ca(ssh::user_ca::load_or_create(data_dir / "ssh_user_ca.pem")),
        svc(st, holder,
            {{"postgresql", &pg}, {"ssh", &ssh_hosts}, {"aws", &aws}, {"kubernetes", &kube}}, clock,
            stats, {}, [this] { changed(); }),
        sched(st, svc, clock, cfg->server.provision_workers),
        notifier(st, holder, clock, stats,
                 {{"webhook", &webhooks}, {"email", &mail}, {"teams", &teams}, {"slack", &slack}}),
        routes(holder, svc, st, stats, hub, [this] { return st.ping() && sched.running(); }) {
    svc.set_ssh_ca(&ssh_ca);
    routes.set_ssh_ca(&ssh_ca);
    routes.on_notifications_change([this] { notifier.wake(); });
    routes.set_slack(&slack_app);
    routes.set_readiness_details([this] {
      boost::json::object d;
      if (auto s = slack.readiness(); !s.is_null()) d["slack"] = std::move(s);
      return d;
    });
    // Another replica committed a change: our long-polls and scheduler look again.
    st.on_remote_change([this] { changed(); });
  }

  ~impl() {
    st.on_remote_change({});
    if (slack_check.joinable()) slack_check.join();
  }

  // auth.test on a thread of its own: a slow Slack holds up neither the start nor a reload.
  void check_slack() {
    if (slack_check.joinable()) slack_check.join();
    slack_check = std::thread([this] { slack.check_auth(); });
  }

  void changed() {
    sched.wake();
    notifier.wake();
    hub.notify();
  }

  void reload() {
    try {
      auto next = load_config(holder.get()->path);
      auto cur = holder.get();
      if (next->server.listen != cur->server.listen ||
          next->server.data_dir != cur->server.data_dir || next->store.type != cur->store.type ||
          next->store.path != cur->store.path || next->store.url != cur->store.url ||
          next->store.pool_size != cur->store.pool_size)
        spdlog::warn(
            "config reload: server.listen, server.data_dir and store take effect after a "
            "restart");
      holder.set(std::move(next));
      ++stats.config_reloads;
      spdlog::info("config reloaded from {}", cur->path.string());
      changed();
      check_slack();
    } catch (const std::exception& e) {
      ++stats.config_reload_failures;
      spdlog::error("config reload rejected, keeping the previous config: {}", e.what());
    }
  }

  config_holder holder;
  std::filesystem::path data_dir;
  common::system_clock clock;
  metrics stats;
  event_hub hub;
  std::unique_ptr<store> store_ptr;
  store& st;
  postgres_provisioner pg;
  ssh_provisioner ssh_hosts;
  aws_provisioner aws{clock};
  kubernetes_provisioner kube{clock};
  ssh::user_ca ssh_ca;
  service svc;
  scheduler sched;
  notify::webhook_channel webhooks{clock};
  notify::email_channel mail{holder};
  notify::teams_channel teams{clock};
  notify::slack_channel slack{st, holder, clock};
  std::thread slack_check;
  notify::dispatcher notifier;
  api::router routes;
  // After the router, so it goes first: its threads finish their Slack work while the service
  // and the store are still there.
  slack::app slack_app{holder, svc, st, clock};
  std::function<void(const std::string&, const std::filesystem::path&)> listening;
};

app::app(std::shared_ptr<const config> cfg) : impl_(std::make_unique<impl>(std::move(cfg))) {}
app::~app() = default;

void app::on_listening(std::function<void(const std::string&, const std::filesystem::path&)> f) {
  impl_->listening = std::move(f);
}

void app::set_portal_assets(std::span<const portal::asset> assets) {
  impl_->routes.set_portal_assets(assets);
  if (assets.empty())
    spdlog::info("portal: not part of this build (web/dist was missing): / answers 503");
  else
    spdlog::info("portal: {} file(s) embedded, served at /", assets.size());
}

int app::run() {
  auto& m = *impl_;
  auto cfg = m.holder.get();
  auto [host, port] = split_listen(cfg->server.listen);

  http::server_options opts;
  opts.host = host;
  opts.port = port;
  std::filesystem::path ca_file;
  if (cfg->server.tls_cert.empty() || cfg->server.tls_key.empty()) {
    std::vector<std::string> names{"localhost", "127.0.0.1", "::1"};
    if (std::find(names.begin(), names.end(), host) == names.end() && host != "0.0.0.0" &&
        host != "::")
      names.push_back(host);
    auto tls = ensure_tls(m.data_dir, names);
    opts.cert_file = tls.server_cert;
    opts.key_file = tls.server_key;
    ca_file = tls.ca_cert;
  } else {
    auto abs = [&](const std::filesystem::path& p) { return p.is_absolute() ? p : m.data_dir / p; };
    opts.cert_file = abs(cfg->server.tls_cert);
    opts.key_file = abs(cfg->server.tls_key);
  }

  net::io_context ioc;
  http::server srv(ioc, opts, [&m](http::request req) { return m.routes.handle(std::move(req)); });
  m.sched.start();
  m.notifier.start();
  m.check_slack();

  net::signal_set stop_signals(ioc, SIGINT, SIGTERM);
  net::signal_set hup(ioc, SIGHUP);
  stop_signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", sig);
    hup.cancel();
    m.hub.stop();
    srv.stop();
  });
  std::function<void(const boost::system::error_code&, int)> on_hup =
      [&](const boost::system::error_code& ec, int) {
        if (ec) return;
        m.reload();
        hup.async_wait(on_hup);
      };
  hup.async_wait(on_hup);

  std::string shown_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::string url = "https://" + shown_host + ":" + std::to_string(srv.port());
  spdlog::info("aponod listening on {} (data dir {})", url, m.data_dir.string());
  if (m.listening) m.listening(url, ca_file);

  auto threads = std::max(2u, std::min(4u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  m.notifier.stop();
  m.sched.stop();
  spdlog::info("aponod stopped");
  return 0;
}

}  // namespace apono::broker
