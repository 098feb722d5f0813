// SSH grants in the CLI: the certificate request and the two clients.
#include "cli/ssh_access.hpp"

#include <boost/json.hpp>

#include <cstdlib>
#include <memory>

#include "cli/api_client.hpp"
#include "cli/local_access.hpp"
#include "cli/profiles.hpp"
#include "common/secrets.hpp"
#include "launchers/ssh/openssh_launcher.hpp"
#include "launchers/ssh/ssh_keys.hpp"
#include "launchers/ssh/ssh_session.hpp"
#include "proxy/grant_clock.hpp"
#include "proxy/grant_watch.hpp"
#include "proxy/revoke_watch.hpp"

namespace apono::cli {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// Where `access use` keeps the files: they must outlive the command, for the user's own ssh.
fs::path instructions_dir(const std::string& request_id) {
  fs::path base;
  if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x && fs::is_directory(x)) {
    base = fs::path(x) / "apono";
  } else if (const char* s = std::getenv("XDG_STATE_HOME"); s && *s) {
    base = fs::path(s) / "apono";
  } else if (const char* h = std::getenv("HOME"); h && *h) {
    base = fs::path(h) / ".local" / "state" / "apono";
  } else {
    throw std::runtime_error("no place for the SSH key: set XDG_RUNTIME_DIR or HOME");
  }
  common::ensure_private_dir(base);
  auto dir = base / ("ssh-" + request_id);
  common::ensure_private_dir(dir);
  return dir;
}

}  // namespace

const common::unit_credentials& choose_ssh_unit(const common::access_details& d,
                                                const std::string& host, const std::string& login) {
  const common::unit_credentials* chosen = nullptr;
  std::string names;
  int matches = 0;
  for (const auto& u : d.units) {
    if (u.type != "ssh") continue;
    names += (names.empty() ? "" : ", ") + u.username + "@" + u.resource;
    if ((!host.empty() && u.resource != host) ||
        (!login.empty() && u.permission != login && u.username != login))
      continue;
    chosen = &u;
    ++matches;
  }
  if (names.empty()) throw std::runtime_error(d.request_id + " holds no SSH access");
  if (matches == 0)
    throw usage_error((login.empty() ? "" : login + "@") + (host.empty() ? "that host" : host) +
                      " is not part of " + d.request_id + " (it covers " + names + ")");
  if (matches > 1)
    throw usage_error(d.request_id + " covers " + names + ": choose with --host and --login");
  return *chosen;
}

common::ssh_certificate issue_ssh_certificate(api_client& api, const common::access_details& d,
                                              const common::unit_credentials& unit,
                                              const launchers::ssh_keypair& key) {
  auto res = api.post("/api/v1/access-sessions/" + url_encode(d.request_id) + "/ssh-certificate",
                      json::object{{"public_key", key.public_key},
                                   {"resource", unit.resource},
                                   {"permission", unit.permission}});
  return common::ssh_certificate_from_json(res);
}

bool has_ssh_unit(const common::access_details& d) {
  for (const auto& u : d.units)
    if (u.type == "ssh") return true;
  return false;
}

int connect_ssh(const global_options& g, const common::access_details& d,
                const ssh_connect_options& o) {
  if (o.client != "builtin" && o.client != "ssh")
    throw usage_error("unknown client '" + o.client + "' for SSH: use builtin or ssh");
  const auto& unit = choose_ssh_unit(d, o.host, o.login);
  auto api = connect(g);
  auto key = launchers::generate_ssh_keypair("apono " + d.request_id);
  auto cert = issue_ssh_certificate(api, d, unit, key);

  // The same deadline and revoke feed as the database proxy.
  common::system_clock clock;
  proxy::grant_watch watch(d.request_id, d.ends_at, clock);
  proxy::grant_clock deadline(watch, {}, {});
  auto profiles = load_profiles();
  const auto& p = resolve_profile(profiles, g.profile);
  proxy::revoke_watch revokes({p.server, p.ca_file, p.token}, d.events_after, watch);

  if (o.client == "ssh") {
    launchers::openssh_options so;
    so.run_dir = make_run_dir(d.request_id);
    struct remove_dir {
      fs::path dir;
      ~remove_dir() {
        std::error_code ec;
        fs::remove_all(dir, ec);
      }
    } cleanup{so.run_dir};
    so.host = cert.unit.host;
    so.port = cert.unit.port;
    so.user = cert.unit.username;
    so.private_key = key.private_key;
    so.certificate = cert.certificate;
    so.known_hosts = cert.unit.known_hosts;
    so.command = o.command;
    so.watch = &watch;
    return launchers::run_openssh(so);
  }
  launchers::ssh_options so;
  so.host = cert.unit.host;
  so.port = cert.unit.port;
  so.user = cert.unit.username;
  so.private_key = key.private_key;
  so.certificate = cert.certificate;
  so.known_hosts = cert.unit.known_hosts;
  so.command = o.command;
  so.watch = &watch;
  return launchers::run_ssh(so);
}

ssh_instructions prepare_ssh_instructions(const global_options& g, const common::access_details& d,
                                          const common::unit_credentials& unit) {
  auto api = connect(g);
  auto key = launchers::generate_ssh_keypair("apono " + d.request_id);
  ssh_instructions out;
  out.certificate = issue_ssh_certificate(api, d, unit, key);
  out.dir = instructions_dir(d.request_id);
  auto files = launchers::openssh_file_paths(out.dir);
  common::write_private_file(files.private_key, key.private_key);
  common::write_private_file(files.certificate, out.certificate.certificate + "\n");
  common::write_private_file(files.known_hosts, out.certificate.unit.known_hosts);
  launchers::openssh_options so;
  so.host = out.certificate.unit.host;
  so.port = out.certificate.unit.port;
  so.user = out.certificate.unit.username;
  out.argv = launchers::openssh_argv(so, files);
  return out;
}

}  // namespace apono::cli
