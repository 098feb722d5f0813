// SSH grants for every tool that runs ssh. `access use --ssh-config` writes the session's key,
// certificate and known_hosts and a Host block whose ProxyCommand is `apono access ssh-relay`;
// the relay connects to the grant's host (from the broker, never from the command line, so an
// edited config cannot point it elsewhere), watches the grant like every launcher, and at the
// end closes the connection, prints the database shell's message and removes the grant's files.
#include "cli/ssh_config_access.hpp"

#include <CLI/CLI.hpp>

#include <boost/json.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>
#include <ostream>
#include <regex>

#include "cli/api_client.hpp"
#include "cli/helper_support.hpp"
#include "cli/instructions.hpp"
#include "cli/output.hpp"
#include "cli/private_file.hpp"
#include "cli/profiles.hpp"
#include "cli/ssh_access.hpp"
#include "cli/ssh_config_file.hpp"
#include "common/model.hpp"
#include "common/secrets.hpp"
#include "common/time.hpp"
#include "launchers/shell/shell.hpp"
#include "launchers/ssh/openssh_launcher.hpp"
#include "launchers/ssh/ssh_keys.hpp"
#include "launchers/ssh/ssh_relay.hpp"
#include "proxy/grant_clock.hpp"
#include "proxy/grant_watch.hpp"
#include "proxy/revoke_watch.hpp"

namespace apono::cli {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// A request id as the broker writes it (AR-00012), for directory names and alias parsing.
const std::regex request_id_pattern("AR-[0-9]+", std::regex::icase);

bool valid_request_id(const std::string& id) {
  return std::regex_match(id, request_id_pattern);
}

// A command line for ProxyCommand: sh -c runs it, and ssh expands % tokens in it first.
std::string proxy_command(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    out += out.empty() ? "" : " ";
    for (char c : shell_quote(a)) {
      out += c;
      if (c == '%') out += '%';
    }
  }
  return out;
}

std::vector<std::string> relay_command(const global_options& g) {
  auto argv = self_command(g);
  argv.emplace_back("access");
  argv.emplace_back("ssh-relay");
  return argv;
}

// Last in apono's file: any other name under .apono was a grant's, so ssh runs the relay for
// it too, and the relay says that access ended (or how to set it up) instead of ssh saying the
// name does not resolve.
std::string catch_all_block(const global_options& g) {
  return "# Names of grants that have ended, or were never set up here: the relay says which.\n"
         "Host *.apono\n  ProxyCommand " +
         proxy_command(relay_command(g)) + " --alias '%n'\n";
}

fs::path grant_dir(const std::string& id) {
  return ssh_config_home() / id;
}

void remove_locked(const global_options& g, const std::string& id) {
  auto config = apono_ssh_config_path();
  if (fs::exists(config))
    edit_private_file(config, [&](std::string_view text) {
      return with_grant_blocks(text, id, {}, catch_all_block(g));
    });
  std::error_code ec;
  fs::remove_all(grant_dir(id), ec);
}

// The end time write_ssh_config recorded in a grant's directory; none when missing or damaged.
std::optional<common::time_point> recorded_end(const fs::path& dir) {
  try {
    auto text = common::read_file(dir / "ends_at");
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return common::parse_rfc3339(text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The ids of grants with files here, and when each ends (as recorded by write_ssh_config).
std::vector<std::pair<std::string, std::optional<common::time_point>>> written_grants() {
  std::vector<std::pair<std::string, std::optional<common::time_point>>> out;
  auto home = config_dir() / "ssh";
  std::error_code ec;
  if (!fs::is_directory(home, ec)) return out;
  for (const auto& e : fs::directory_iterator(home, ec)) {
    auto id = e.path().filename().string();
    if (!e.is_directory() || !valid_request_id(id)) continue;
    out.emplace_back(id, recorded_end(e.path()));
  }
  return out;
}

// "\r\n" around the message when stderr is the terminal ssh has in raw mode.
void print_end_message(io& streams, const std::string& message) {
  bool tty = ::isatty(STDERR_FILENO);
  streams.err << (tty ? "\r\n" : "") << message << (tty ? "\r\n" : "\n");
  streams.err.flush();
}

struct relay_options {
  std::string id;
  std::string host;
  std::string login;
  std::string alias;
};

// Says why, then cuts the session (when one is open), then removes the grant's files.
[[noreturn]] void access_ended(const global_options& g, io& streams, const std::string& id,
                               const std::string& message, int sock = -1) {
  print_end_message(streams, message);
  // ssh sends its ProxyCommand SIGHUP as it exits, which is right after the cut below and
  // before the files are gone.
  ::signal(SIGHUP, SIG_IGN);
  if (sock >= 0) launchers::close_relay(STDOUT_FILENO, sock);
  remove_ssh_config(g, id);
  throw exit_status(launchers::exit_access_ended);
}

void run_ssh_relay(const relay_options& o, const global_options& g, io& streams) {
  // ssh may go away mid-write; the relay then ends on EPIPE instead of dying of the signal.
  ::signal(SIGPIPE, SIG_IGN);
  std::string id = o.id;
  if (id.empty()) {
    std::smatch m;
    if (!std::regex_search(o.alias, m, request_id_pattern))
      throw std::runtime_error("no apono SSH grant is named " + o.alias +
                               " (apono names hosts RESOURCE.AR-N.apono)");
    id = m.str();
    for (auto& c : id) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  json::value jd;
  try {
    jd = fetch_details(g, id);
  } catch (const access_ended_error& e) {
    access_ended(g, streams, id, e.what());
  }
  auto d = common::details_from_json(jd);
  common::system_clock clock;
  proxy::grant_watch watch(d.request_id, d.ends_at, clock);
  // Past its end the broker may serve the grant for a moment more, until its scheduler expires
  // it: the end time decides (the clock ends the watch at once then).
  proxy::grant_clock deadline(watch, {}, {});
  if (watch.ended()) access_ended(g, streams, id, watch.message());
  if (o.id.empty())
    throw std::runtime_error("no SSH config for " + o.alias + " here: run apono access use " + id +
                             " --ssh-config");
  const auto& unit = choose_ssh_unit(d, o.host, o.login);

  auto profiles = load_profiles();
  const auto& p = resolve_profile(profiles, g.profile);
  proxy::revoke_watch revokes({p.server, p.ca_file, p.token}, d.events_after, watch);
  if (watch.ended()) access_ended(g, streams, id, watch.message());

  std::string error;
  int sock = launchers::connect_tcp(unit.host, unit.port, &watch, error);
  if (sock < 0) {
    if (watch.ended()) access_ended(g, streams, id, watch.message());
    throw std::runtime_error(error);
  }
  if (launchers::relay_stream(STDIN_FILENO, STDOUT_FILENO, sock, &watch) ==
      launchers::relay_end::access_ended)
    access_ended(g, streams, id, watch.message(), sock);
  launchers::close_relay(STDOUT_FILENO, sock);
}

}  // namespace

std::string ssh_host_alias(const std::string& id, const std::string& resource,
                           const std::string& permission) {
  std::string out;
  for (const auto& part : {permission, resource, id}) {
    if (part.empty()) continue;
    for (char c : part) {
      auto u = static_cast<unsigned char>(c);
      out += std::isalnum(u) || c == '.' || c == '-' || c == '_'
                 ? static_cast<char>(std::tolower(u))
                 : '-';
    }
    out += '.';
  }
  return out + "apono";
}

void write_ssh_config(const global_options& g, const json::value& details, io& streams) {
  sweep_ended_ssh_configs(g);
  auto d = common::details_from_json(details);
  if (!valid_request_id(d.request_id))
    throw std::runtime_error("unexpected request id '" + d.request_id + "' from the broker");
  std::vector<const common::unit_credentials*> units;
  for (const auto& u : d.units)
    if (u.type == "ssh") units.push_back(&u);
  if (units.empty()) throw std::runtime_error(d.request_id + " holds no SSH access");

  auto api = connect(g);
  ssh_config_lock lock;
  auto dir = grant_dir(d.request_id);
  std::error_code ec;
  fs::remove_all(dir, ec);  // a second run replaces the first one's keys
  common::ensure_private_dir(dir);
  common::write_private_file(dir / "ends_at", common::format_rfc3339(d.ends_at) + "\n");

  std::string blocks;
  std::vector<std::string> aliases;
  for (const auto* u : units) {
    std::size_t same_resource = 0;
    for (const auto* x : units) same_resource += x->resource == u->resource ? 1 : 0;
    auto alias = ssh_host_alias(d.request_id, u->resource, same_resource > 1 ? u->permission : "");
    auto key = launchers::generate_ssh_keypair("apono " + d.request_id);
    auto cert = issue_ssh_certificate(api, d, *u, key);
    auto unit_dir = dir / alias;
    common::ensure_private_dir(unit_dir);
    auto files = launchers::openssh_file_paths(unit_dir);
    common::write_private_file(files.private_key, key.private_key);
    common::write_private_file(files.certificate, cert.certificate + "\n");
    common::write_private_file(files.known_hosts, cert.unit.known_hosts);

    auto relay = relay_command(g);
    for (const auto& a : {std::string(d.request_id), std::string("--host"), u->resource,
                          std::string("--login"), u->permission})
      relay.push_back(a);
    // First value wins in ssh_config, and apono's file is included first: these settings
    // beat the user's `Host *` defaults. No agent, no other key, no host key but the broker's,
    // and no shared connection that could outlive the grant or skip the relay.
    blocks += "Host " + alias + "\n";
    blocks += "  HostName " + ssh_config_value(cert.unit.host) + "\n";
    blocks += "  Port " + std::to_string(cert.unit.port) + "\n";
    blocks += "  User " + ssh_config_value(cert.unit.username) + "\n";
    blocks += "  IdentityFile " + ssh_config_value(files.private_key.string()) + "\n";
    blocks += "  CertificateFile " + ssh_config_value(files.certificate.string()) + "\n";
    blocks += "  IdentitiesOnly yes\n  IdentityAgent none\n  AddKeysToAgent no\n";
    blocks += "  UserKnownHostsFile " + ssh_config_value(files.known_hosts.string()) + "\n";
    blocks += "  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n";
    blocks += "  UpdateHostKeys no\n  ControlMaster no\n  ControlPath none\n";
    blocks += "  ControlPersist no\n";
    blocks += "  ProxyCommand " + proxy_command(relay) + "\n";
    aliases.push_back(alias);
  }
  auto config = apono_ssh_config_path();
  edit_private_file(config, [&](std::string_view text) {
    return with_grant_blocks(text, d.request_id, blocks, catch_all_block(g));
  });
  auto user_config = user_ssh_config_path();
  bool included = edit_private_file(
      user_config, [&](std::string_view text) { return with_include(text, config); });

  if (included)
    streams.err << "[notice] Added `Include " << ssh_config_value(config.string())
                << "` at the top of " << user_config.string() << "\n";
  streams.err << "[notice] Wrote Host " << aliases.front();
  for (std::size_t i = 1; i < aliases.size(); ++i) streams.err << ", " << aliases[i];
  streams.err << " to " << config.string() << " (key, certificate and known_hosts in "
              << dir.string() << "), until access ends "
              << valid_until(common::format_rfc3339(d.ends_at)) << "; try:\n";
  const auto& a = aliases.front();
  streams.err << "  ssh " << a << "\n"
              << "  scp FILE " << a << ":\n"
              << "  sftp " << a << "\n"
              << "  rsync -a -e ssh DIR " << a << ":\n"
              << "  git clone " << a << ":REPO\n";
}

void remove_ssh_config(const global_options& g, const std::string& id) {
  if (!valid_request_id(id)) return;
  ssh_config_lock lock;
  remove_locked(g, id);
}

void sweep_ended_ssh_configs(const global_options& g) noexcept {
  try {
    auto now = common::system_clock{}.now();
    for (const auto& [id, ends] : written_grants()) {
      if (ends && *ends > now) continue;
      // Read again under the lock: an `access use` may be writing this grant's files now.
      ssh_config_lock lock;
      auto again = recorded_end(grant_dir(id));
      if (!again || *again <= now) remove_locked(g, id);
    }
  } catch (const std::exception&) {
    // Left for the next run: a sweep never stands in the way of the command.
  }
}

void keep_only_ssh_configs(const global_options& g,
                           const std::vector<std::string>& active_ids) noexcept {
  try {
    for (const auto& [id, ends] : written_grants())
      if (std::find(active_ids.begin(), active_ids.end(), id) == active_ids.end())
        remove_ssh_config(g, id);
  } catch (const std::exception&) {
    // As above.
  }
}

void setup_ssh_relay(CLI::App& access, global_options& g, io& streams) {
  auto o = std::make_shared<relay_options>();
  // Run by ssh from the Host blocks, not by people: hidden from help (empty group).
  auto* cmd = access.add_subcommand("ssh-relay", "ProxyCommand of the --ssh-config Host blocks");
  cmd->group("");
  cmd->add_option("id", o->id, "request id");
  cmd->add_option("--host", o->host, "the resource");
  cmd->add_option("--login", o->login, "the permission");
  cmd->add_option("--alias", o->alias, "the Host name ssh was given (%n), for ended grants");
  cmd->callback([o, &g, &streams] {
    if (o->id.empty() && o->alias.empty()) throw usage_error("ssh-relay: give ID or --alias");
    run_ssh_relay(*o, g, streams);
  });
}

}  // namespace apono::cli
