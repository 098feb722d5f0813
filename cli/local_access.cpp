// Starting the local proxy for a grant, shared by `access connect` and `access proxy`.
#include "cli/local_access.hpp"

#include <stdlib.h>

#include <cstdlib>
#include <stdexcept>
#include <system_error>

#include "cli/api_client.hpp"
#include "cli/local_ca.hpp"
#include "cli/profiles.hpp"
#include "common/secrets.hpp"

namespace apono::cli {

namespace fs = std::filesystem;

std::string conninfo_value(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

fs::path make_run_dir(const std::string& id) {
  fs::path base;
  if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x && fs::is_directory(x)) {
    base = fs::path(x) / "apono";
    common::ensure_private_dir(base);
  } else {
    base = fs::temp_directory_path();
  }
  std::string tmpl = (base / ((base.filename() == "apono" ? "" : "apono-") + id + ".XXXXXX"));
  if (!::mkdtemp(tmpl.data()))
    throw std::runtime_error("cannot create a private directory in " + base.string());
  return tmpl;  // mkdtemp makes it 0700
}

local_access::local_access(const global_options& g, const local_access_options& o) {
  auto profiles = load_profiles();
  const auto& p = resolve_profile(profiles, g.profile);
  if (o.details) {
    details_ = *o.details;
  } else {
    details_ = common::details_from_json(
        connect(g).get("/api/v1/access-sessions/" + url_encode(o.id) + "/access-details"));
  }

  std::vector<const common::unit_credentials*> pg;
  for (const auto& u : details_.units)
    if (u.type == "postgresql") pg.push_back(&u);
  if (pg.empty())
    throw std::runtime_error(details_.request_id + " holds no PostgreSQL database to connect to");
  const common::unit_credentials* chosen = pg.front();
  if (!o.database.empty()) {
    chosen = nullptr;
    std::string names;
    for (const auto* u : pg) {
      if (u->database == o.database) chosen = u;
      names += (names.empty() ? "" : ", ") + u->database;
    }
    if (!chosen)
      throw usage_error("database '" + o.database + "' is not part of " + details_.request_id +
                        " (it covers " + names + ")");
  }
  unit_ = *chosen;

  proxy::proxy_options po;
  po.upstream.host = unit_.host;
  po.upstream.port = unit_.port;
  po.upstream.sslmode = unit_.sslmode.empty() ? "prefer" : unit_.sslmode;
  po.upstream.ssl_root_cert = unit_.ssl_root_cert;
  // Every database of the same server in this grant is reachable through one proxy.
  po.upstream.logins.push_back({unit_.database, unit_.username, unit_.password});
  for (const auto* u : pg)
    if (u != chosen && u->integration == unit_.integration)
      po.upstream.logins.push_back({u->database, u->username, u->password});
  if (o.unix_dir.empty()) {
    socket_dir_ = make_run_dir(details_.request_id);
    own_dir_ = true;
  } else {
    socket_dir_ = o.unix_dir;
  }
  po.unix_dir = socket_dir_;
  po.tcp_port = o.tcp_port;
  if (o.tcp_port) {
    tcp_password_ = common::random_password(24);
    po.tcp_password = tcp_password_;
    // TLS for the TCP clients that ask (sslmode=require, verify-full); the socket stays plain.
    auto tls = issue_local_tls(config_dir(), details_.ends_at);
    tls_root_ = tls.root_cert;
    po.tls_cert_pem = std::move(tls.cert_chain_pem);
    po.tls_key_pem = std::move(tls.key_pem);
  }
  po.log = o.log;

  watch_ = std::make_unique<proxy::grant_watch>(details_.request_id, details_.ends_at, clock_);
  proxy_ = std::make_unique<proxy::proxy_server>(std::move(po), *watch_);
  try {
    proxy_->start();
  } catch (...) {
    proxy_.reset();
    if (own_dir_) {
      std::error_code ec;
      fs::remove_all(socket_dir_, ec);
    }
    throw;
  }
  revoke_ = std::make_unique<proxy::revoke_watch>(
      proxy::broker_endpoint{p.server, p.ca_file, p.token}, details_.events_after, *watch_);
}

local_access::~local_access() {
  revoke_.reset();
  if (proxy_) proxy_->stop();
  proxy_.reset();
  if (own_dir_) {
    std::error_code ec;
    fs::remove_all(socket_dir_, ec);
  }
}

}  // namespace apono::cli
