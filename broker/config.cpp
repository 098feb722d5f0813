// Loads aponod.yaml into `config` and rejects anything doubtful with FILE:LINE: message.
//
// The format (docs/configuration.md is the full reference):
//
//   server:
//     listen: 127.0.0.1:8443           # HOST:PORT, [v6]:PORT; port 0 picks a free one
//     data_dir: /var/lib/aponod        # default, and base of a relative one: the file's dir
//     tls_cert: server.pem             # both or neither; relative to data_dir;
//     tls_key: server-key.pem          #   neither: the broker makes its own CA and cert
//     log_level: info                  # trace|debug|info|warn|error
//     provision_workers: 4             # 1..64
//     token_ttl: 720h                  # life of an API token from apono login (default 30 days)
//   store:                             # default: SQLite in data_dir
//     type: sqlite                     # sqlite | postgresql (for several aponod replicas)
//     path: apono.db                   # sqlite: relative to data_dir
//     url: postgresql://aponod:secret@db.internal:5432/apono   # postgresql: required, secret
//     pool_size: 8                     # postgresql: 1..256 connections per aponod
//     key_file: /etc/apono/store.key   # keys sealing unit secrets (aponod store keygen);
//                                      #   APONO_STORE_KEYS overrides; sqlite default: in data_dir
//   portal:                            # the web portal's browser sessions
//     idle_timeout: 30m                # signed out after this long unused (default 30m)
//     session_lifetime: 12h            # and this long after sign-in (default 12h); >= idle
//   users:
//     - name: alice                    # required, unique
//       email: alice@example.com
//       admin: false
//       token_sha256: [<64 lowercase hex>, ...]   # or a single string
//       password_hash: pbkdf2-sha256$600000$<salt b64>$<hash b64>   # for browser login
//   groups:
//     - name: engineers                # required, unique
//       members: [alice, bob]          # known users
//   integrations:
//     - id: pg-local                   # required, unique
//       name: Local PostgreSQL         # default: the id
//       type: postgresql               # required: postgresql or ssh (below)
//       admin_url: postgresql://postgres:secret@127.0.0.1:5432/postgres   # required, secret;
//                                      #   any libpq connection string (URI or key=value)
//       host: 127.0.0.1                # for clients; default: admin_url's host
//       port: 5432                     # for clients; default: admin_url's port, else 5432
//       sslmode: prefer                # one of libpq's sslmode values
//       sslrootcert: /etc/apono/pg-ca.pem  # CA for verify-ca/verify-full; sent to clients
//       resources: [appdb, {name: analytics}]
//       permissions:                   # default: read_only, read_write, admin
//         read_only: default           # `default` (or empty): default_postgres_grants(name)
//         custom: [GRANT CONNECT ON DATABASE {database} TO {role}]
//     - id: ssh-local                  # an ssh integration: hosts and logins
//       type: ssh
//       resources:
//         - name: web-1                # required, unique
//           address: 127.0.0.1         # default: the name
//           port: 22                   # default 22
//           host_key: ssh-ed25519 AAAA...   # required: the key(s) the host presents
//       permissions:                   # required: logins
//         - deploy                     # login deploy, principal deploy, default extensions
//         - {name: admin, login: root, principal: apono-admin, extensions: [permit-pty]}
//     - id: aws-prod                   # an aws integration: accounts and roles
//       type: aws
//       region: us-east-1              # default us-east-1
//       sts_endpoint: https://sts.amazonaws.com   # default; iam_endpoint likewise
//       ca_file: /etc/apono/aws-ca.pem # CA for the endpoints (default: the system's)
//       access_key_id: AKIA...         # the broker's own key; default from AWS_ACCESS_KEY_ID,
//       secret_access_key: ...         #   AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)
//       resources: ["123456789012"]    # 12-digit account ids
//       permissions:
//         - {name: read-only, role_arn: "arn:aws:iam::{account}:role/ReadOnly", max_session: 1h}
//     - id: k8s-prod                   # a kubernetes integration: namespaces and ClusterRoles
//       type: kubernetes
//       server: https://10.0.0.1:6443  # required: the API server
//       ca_file: /etc/apono/k8s-ca.pem # its CA, also written into users' kubeconfigs
//       token_file: /etc/apono/k8s-token   # or token: the broker's bearer token (secret)
//       audience: ""                   # TokenRequest audience; default: the API server's
//       resources: [team-a]            # namespaces
//       permissions: [view, {name: edit, cluster_role: edit}]
//   access_flows:
//     - name: engineers-read           # required, unique
//       requestors: {users: [alice], groups: [engineers]}   # required
//       targets:                       # required, non-empty
//         - integration: pg-local      # a known integration id
//           resources: ["*"]           # glob patterns; matching nothing is fine
//           permissions: [read_only]   # names of that integration, or "*"
//       approval: automatic            # automatic (default) | manual
//       approvers: {users: [carol]}    # required, non-empty, for manual
//       max_duration: 8h               # common::parse_duration; default 8h
//       default_duration: 1h           # default min(1h, max_duration); must be <= max
//       justification_required: true
//   bundles:
//     - name: analytics-readers        # required, unique
//       targets:                       # exact resource and permission names
//         - {integration: pg-local, resources: [analytics], permissions: [read_only]}
//   notifications:                     # read by notify/notify_config.cpp
//     webhooks:
//       - name: siem                   # required, unique
//         url: https://siem.example.com/hooks/apono   # https; http:// for loopback only
//         secrets: [whsec_...]         # or secret_files: [/etc/apono/siem.whsec]
//         events: ["audit.*"]          # names or prefixes (request.*); unknown ones fail
//     timeout: 10s                     # per attempt
//     retry: {initial: 1s, max: 10m, max_age: 24h, jitter: true}
//
// Unknown and duplicate keys are errors so that a typo never silently becomes a default.
// Sections are read in dependency order (users before groups before flows), whatever their
// order in the file, so every reference is checked against what it names.
#include "broker/config.hpp"

#include <libpq-fe.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <utility>

#include "broker/config_reader.hpp"
#include "broker/notify/notify_config.hpp"
#include "common/duration.hpp"
#include "common/secrets.hpp"

namespace apono::broker {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view supported_types = "postgresql, ssh, aws, kubernetes";
// What OpenSSH's sshd understands (PROTOCOL.certkeys); anything else would be ignored there.
const std::set<std::string, std::less<>> ssh_extensions = {"no-touch-required",
                                                           "permit-X11-forwarding",
                                                           "permit-agent-forwarding",
                                                           "permit-port-forwarding",
                                                           "permit-pty",
                                                           "permit-user-rc"};
const std::set<std::string, std::less<>> host_key_types = {"ssh-ed25519",
                                                           "ecdsa-sha2-nistp256",
                                                           "ecdsa-sha2-nistp384",
                                                           "ecdsa-sha2-nistp521",
                                                           "ssh-rsa",
                                                           "sk-ssh-ed25519@openssh.com",
                                                           "sk-ecdsa-sha2-nistp256@openssh.com"};

// A login or principal: what sshd compares byte for byte, so nothing that could be read
// differently by a shell, a principals file or a certificate's comma-less list.
bool is_ssh_name(std::string_view s) {
  if (s.empty() || s.size() > 64 || s.front() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
           c == '@';
  });
}
const std::set<std::string, std::less<>> log_levels = {"trace", "debug", "info", "warn", "error"};
const std::set<std::string, std::less<>> sslmodes = {"disable", "allow",     "prefer",
                                                     "require", "verify-ca", "verify-full"};

// Parses a decimal port; nullopt unless it is all digits and in 1..65535.
std::optional<int> parse_port(std::string_view s) {
  int port = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || port < 1 || port > 65535) {
    return std::nullopt;
  }
  return port;
}

// Where an admin_url points, as far as clients need to know.
struct pg_endpoint {
  std::string host;         // empty or a socket directory: no TCP host
  std::optional<int> port;  // unset: libpq's default
  bool bad_port = false;    // a port was given but is not in 1..65535
};

// The first host and port of a connection string, parsed by libpq itself so that anything it
// accepts (URI or key=value) means the same here. nullopt when libpq rejects it; its message
// is dropped because it can quote the string, password included.
std::optional<pg_endpoint> parse_admin_url(const std::string& url) {
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
      PQconninfoParse(url.c_str(), &err), &PQconninfoFree);
  if (err) PQfreemem(err);
  if (!options) return std::nullopt;
  std::string_view host, hostaddr, port;
  for (const auto* o = options.get(); o->keyword; ++o) {
    if (!o->val) continue;
    std::string_view key = o->keyword;
    std::string_view first = std::string_view(o->val).substr(0, std::string_view(o->val).find(','));
    if (key == "host") host = first;
    if (key == "hostaddr") hostaddr = first;
    if (key == "port") port = first;
  }
  pg_endpoint out;
  // `host` is the name TLS verifies; `hostaddr` only skips the lookup, so it is the fallback.
  out.host = std::string(host.empty() ? hostaddr : host);
  if (!port.empty()) {
    out.port = parse_port(port);
    out.bad_port = !out.port;
  }
  return out;
}

// Turns a parsed YAML tree into a config, or throws config_error at the first problem.
class loader : public config_reader {
 public:
  explicit loader(fs::path path) : config_reader(path.string()), path_(std::move(path)) {}

  std::shared_ptr<const config> load(const YAML::Node& root) {
    auto cfg = std::make_shared<config>();
    cfg->path = path_;
    if (given(root)) {
      if (!root.IsMap()) fail(root, "", "expected a mapping at the top level");
      check_keys(root, "",
                 {"server", "store", "portal", "users", "groups", "integrations", "access_flows",
                  "bundles", "notifications"});
    }
    // Lookups on an empty document yield undefined nodes, so every section takes its default.
    const YAML::Node top = root;
    read_server(top["server"], cfg->server);
    read_store(top["store"], cfg->server, cfg->store);
    read_portal(top["portal"], cfg->portal);
    for_each_item(top["users"], "users", [&](const YAML::Node& n, std::size_t i) {
      cfg->users.push_back(read_user(n, i));
    });
    for_each_item(top["groups"], "groups", [&](const YAML::Node& n, std::size_t i) {
      cfg->groups.push_back(read_group(n, i));
    });
    for_each_item(top["integrations"], "integrations", [&](const YAML::Node& n, std::size_t i) {
      cfg->integrations.push_back(read_integration(n, i));
    });
    cfg_ = cfg.get();
    for_each_item(top["access_flows"], "access_flows", [&](const YAML::Node& n, std::size_t i) {
      cfg->flows.push_back(read_flow(n, i));
    });
    for_each_item(top["bundles"], "bundles", [&](const YAML::Node& n, std::size_t i) {
      cfg->bundles.push_back(read_bundle(n, i));
    });
    cfg->notifications = notify::read_notifications(*this, top["notifications"]);
    if (const auto& s = cfg->notifications.slack)
      for (const auto& [slack_id, user] : s->users)
        if (!cfg->find_user(user))
          fail(top["notifications"]["slack"]["users"], "notifications: slack",
               "users: " + slack_id + " maps to '" + user + "', who is not in users");
    return cfg;
  }

 private:
  // Remembers a name in `seen` and rejects a second one.
  void unique(std::map<std::string, YAML::Mark, std::less<>>& seen, const located& name,
              std::string_view kind) const {
    auto [it, fresh] = seen.emplace(name.value, name.mark);
    if (!fresh) {
      fail(name.mark, "",
           "duplicate " + std::string(kind) + " '" + name.value + "' (first on line " +
               std::to_string(it->second.line + 1) + ")");
    }
  }

  static std::string named(std::string_view kind, std::string_view name) {
    return std::string(kind) + " '" + std::string(name) + "'";
  }
  static std::string numbered(std::string_view kind, std::size_t index) {
    return std::string(kind) + " #" + std::to_string(index + 1);
  }
  // How messages name the object in mapping `n`: by its name if usable, else by position.
  // Keys are checked before required fields, so a misspelt `name` is reported as such.
  static std::string label(const YAML::Node& n, const std::string& key, std::string_view kind,
                           std::size_t index) {
    const YAML::Node name = n[key];
    if (name.IsDefined() && name.IsScalar() && !name.Scalar().empty()) {
      return named(kind, name.Scalar());
    }
    return numbered(kind, index);
  }

  void read_server(const YAML::Node& n, server_config& s) const {
    const std::string ctx = "server";
    // Absolute, so that data_dir and the TLS paths under it keep meaning the same place
    // whatever the working directory is when they are used.
    const fs::path base = fs::absolute(path_).parent_path();
    s.data_dir = base;
    if (!given(n)) return;
    expect_map(n, ctx);
    check_keys(n, ctx,
               {"listen", "data_dir", "tls_cert", "tls_key", "log_level", "provision_workers",
                "token_ttl"});
    if (auto listen = optional_string(n, ctx, "listen")) {
      check_listen(n["listen"], *listen);
      s.listen = *listen;
    }
    if (auto dir = optional_string(n, ctx, "data_dir")) {
      if (dir->empty()) fail(n["data_dir"], ctx, "data_dir: must not be empty");
      s.data_dir = (base / fs::path(*dir)).lexically_normal();  // an absolute dir replaces base
    }
    auto cert = optional_string(n, ctx, "tls_cert");
    auto key = optional_string(n, ctx, "tls_key");
    if (cert.has_value() != key.has_value() || (cert && (cert->empty() || key->empty()))) {
      fail(n, ctx, "give both tls_cert and tls_key, or neither to let the broker make its own");
    }
    if (cert) {
      s.tls_cert = s.data_dir / fs::path(*cert);
      s.tls_key = s.data_dir / fs::path(*key);
    }
    if (auto level = optional_string(n, ctx, "log_level")) {
      if (!log_levels.contains(*level)) {
        fail(n["log_level"], ctx,
             "log_level: '" + *level + "' is not one of trace, debug, info, warn, error");
      }
      s.log_level = *level;
    }
    if (auto workers = optional_int(n, ctx, "provision_workers", 1, 64)) {
      s.provision_workers = *workers;
    }
    if (given(n["token_ttl"])) s.token_ttl = duration(n["token_ttl"], ctx, "token_ttl");
  }

  void read_portal(const YAML::Node& n, portal_config& p) const {
    const std::string ctx = "portal";
    if (!given(n)) return;
    expect_map(n, ctx);
    check_keys(n, ctx, {"idle_timeout", "session_lifetime"});
    if (given(n["idle_timeout"])) p.idle_timeout = duration(n["idle_timeout"], ctx, "idle_timeout");
    if (given(n["session_lifetime"]))
      p.session_lifetime = duration(n["session_lifetime"], ctx, "session_lifetime");
    if (p.idle_timeout > p.session_lifetime)
      fail(given(n["idle_timeout"]) ? n["idle_timeout"] : n, ctx,
           "idle_timeout: " + common::format_duration(p.idle_timeout) +
               " is longer than session_lifetime " + common::format_duration(p.session_lifetime));
  }

  void read_store(const YAML::Node& n, const server_config& server, store_config& s) const {
    const std::string ctx = "store";
    s.path = server.data_dir / "apono.db";
    if (!given(n)) return;
    expect_map(n, ctx);
    check_keys(n, ctx, {"type", "path", "url", "pool_size", "key_file"});
    if (auto key = optional_string(n, ctx, "key_file")) {
      if (key->empty()) fail(n["key_file"], ctx, "key_file: must not be empty");
      s.key_file = (server.data_dir / fs::path(*key)).lexically_normal();
    }
    if (auto type = optional_string(n, ctx, "type")) {
      if (*type != "sqlite" && *type != "postgresql")
        fail(n["type"], ctx, "type: '" + *type + "' is not one of sqlite, postgresql");
      s.type = *type;
    }
    if (s.type == "sqlite") {
      if (n["url"]) fail(n["url"], ctx, "url: only for type postgresql (sqlite takes a path)");
      if (n["pool_size"]) fail(n["pool_size"], ctx, "pool_size: only for type postgresql");
      if (auto path = optional_string(n, ctx, "path")) {
        if (path->empty()) fail(n["path"], ctx, "path: must not be empty");
        s.path = (server.data_dir / fs::path(*path)).lexically_normal();
      }
      return;
    }
    if (n["path"]) fail(n["path"], ctx, "path: only for type sqlite (postgresql takes a url)");
    auto url = optional_string(n, ctx, "url");
    if (!url || url->empty())
      fail(n, ctx, "url: required for type postgresql, e.g. postgresql://aponod@db:5432/apono");
    // Parsed here so a typo fails at load, not at the first query; libpq's own message can
    // quote the string, password included, so it is not repeated.
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(url->c_str(), &err);
    if (err) PQfreemem(err);
    if (!opts) fail(n["url"], ctx, "url: not a valid libpq connection string");
    PQconninfoFree(opts);
    s.url = *url;
    s.path.clear();
    if (auto pool = optional_int(n, ctx, "pool_size", 1, 256)) s.pool_size = *pool;
  }

  void check_listen(const YAML::Node& at, std::string_view listen) const {
    std::string_view host, port;
    if (listen.starts_with('[')) {
      auto close = listen.find("]:");
      if (close != std::string_view::npos) {
        host = listen.substr(1, close - 1);
        port = listen.substr(close + 2);
      }
    } else if (auto colon = listen.rfind(':'); colon != std::string_view::npos) {
      host = listen.substr(0, colon);
      port = listen.substr(colon + 1);
      if (host.find(':') != std::string_view::npos) host = {};  // bare IPv6 needs brackets
    }
    if (host.empty() || port.empty() ||
        port.find_first_not_of("0123456789") != std::string_view::npos) {
      fail(at, "server",
           "listen: expected HOST:PORT (e.g. 127.0.0.1:8443 or [::1]:8443), got '" +
               std::string(listen) + "'");
    }
    // Port 0 lets the kernel pick one: `aponod --dev --listen 127.0.0.1:0` and tests use it.
    if (port != "0" && !parse_port(port)) {
      fail(at, "server", "listen: port must be between 0 (any free port) and 65535");
    }
  }

  user_config read_user(const YAML::Node& n, std::size_t index) {
    expect_map(n, numbered("user", index));
    const std::string ctx = label(n, "name", "user", index);
    check_keys(n, ctx, {"name", "email", "admin", "token_sha256", "password_hash"});
    auto name = required_string(n, ctx, "name");
    unique(users_, name, "user");
    user_config u;
    u.name = name.value;
    u.email = optional_string(n, ctx, "email").value_or("");
    u.admin = optional_bool(n, ctx, "admin").value_or(false);
    for (auto& hash : string_list(n["token_sha256"], ctx, "token_sha256", true)) {
      // The value is never echoed: a raw token pasted here by mistake must not reach a log.
      bool hex = hash.value.size() == 64 &&
                 hash.value.find_first_not_of("0123456789abcdef") == std::string::npos;
      if (!hex) fail(hash.mark, ctx, "token_sha256: expected 64 lowercase hex characters");
      auto [it, fresh] = token_owners_.emplace(hash.value, u.name);
      if (!fresh) {
        fail(hash.mark, ctx,
             "token_sha256: the same token is already listed for user '" + it->second + "'");
      }
      u.token_hashes.push_back(std::move(hash.value));
    }
    if (auto hash = optional_string(n, ctx, "password_hash")) {
      // Never echoed either: a cleartext password pasted here must not reach a log.
      if (!common::is_password_hash(*hash)) {
        fail(n["password_hash"], ctx,
             "password_hash: expected pbkdf2-sha256$ITERATIONS$SALT$HASH with " +
                 std::to_string(common::min_password_iterations) + " to " +
                 std::to_string(common::max_password_iterations) +
                 " iterations, an 8 to 64 byte salt and a 32-byte hash, both in "
                 "standard base64");
      }
      u.password_hash = std::move(*hash);
    }
    return u;
  }

  group_config read_group(const YAML::Node& n, std::size_t index) {
    expect_map(n, numbered("group", index));
    const std::string ctx = label(n, "name", "group", index);
    check_keys(n, ctx, {"name", "members"});
    auto name = required_string(n, ctx, "name");
    unique(groups_, name, "group");
    group_config g;
    g.name = name.value;
    for (auto& member : string_list(n["members"], ctx, "members")) {
      if (!users_.contains(member.value)) {
        fail(member.mark, ctx, "unknown user '" + member.value + "'");
      }
      g.members.push_back(std::move(member.value));
    }
    return g;
  }

  integration_config read_integration(const YAML::Node& n, std::size_t index) {
    expect_map(n, numbered("integration", index));
    const std::string ctx = label(n, "id", "integration", index);
    auto type = required_string(n, ctx, "type");
    if (type.value != "postgresql" && type.value != "ssh" && type.value != "aws" &&
        type.value != "kubernetes") {
      fail(type.mark, ctx,
           "unknown type '" + type.value + "' (supported: " + std::string(supported_types) + ")");
    }
    if (type.value == "ssh") {
      check_keys(n, ctx, {"id", "name", "type", "resources", "permissions"});
    } else if (type.value == "aws") {
      check_keys(
          n, ctx,
          {"id", "name", "type", "region", "sts_endpoint", "iam_endpoint", "ca_file",
           "access_key_id", "secret_access_key", "session_token", "resources", "permissions"});
    } else if (type.value == "kubernetes") {
      check_keys(n, ctx,
                 {"id", "name", "type", "server", "ca_file", "token", "token_file", "audience",
                  "resources", "permissions"});
    } else {
      check_keys(n, ctx,
                 {"id", "name", "type", "admin_url", "host", "port", "sslmode", "sslrootcert",
                  "resources", "permissions"});
    }
    auto id = required_string(n, ctx, "id");
    unique(integrations_, id, "integration");
    integration_config in;
    in.id = id.value;
    in.name = optional_string(n, ctx, "name").value_or(in.id);
    if (in.name.empty()) in.name = in.id;
    in.type = type.value;
    if (in.type == "ssh") {
      in.resource_type = "host";
      read_ssh_hosts(n, ctx, in);
      read_ssh_logins(n, ctx, in);
      return in;
    }
    if (in.type == "aws") {
      in.resource_type = "account";
      read_aws(n, ctx, in);
      return in;
    }
    if (in.type == "kubernetes") {
      in.resource_type = "namespace";
      read_kubernetes(n, ctx, in);
      return in;
    }
    in.resource_type = "database";
    read_postgres_endpoint(n, ctx, in);
    read_resources(n["resources"], ctx, in);
    read_permissions(n["permissions"], ctx, in);
    return in;
  }

  void read_ssh_hosts(const YAML::Node& n, std::string_view ctx, integration_config& in) const {
    const YAML::Node list = n["resources"];
    if (!given(list)) fail(n, ctx, "'resources' is required: the hosts");
    if (!list.IsSequence()) fail(list, ctx, "resources: expected a list of hosts");
    std::map<std::string, YAML::Mark, std::less<>> seen;
    for (const auto& item : list) {
      if (!item.IsMap())
        fail(item, ctx, "resources: expected {name: ..., address: ..., port: ..., host_key: ...}");
      check_keys(item, ctx, {"name", "address", "port", "host_key"});
      auto name = required_string(item, ctx, "name");
      if (name.value.empty()) fail(name.mark, ctx, "resources: empty name");
      const std::string hctx = std::string(ctx) + ": host '" + name.value + "'";
      if (auto [it, fresh] = seen.emplace(name.value, name.mark); !fresh) {
        fail(name.mark, ctx,
             "duplicate resource '" + name.value + "' (first on line " +
                 std::to_string(it->second.line + 1) + ")");
      }
      resource_config r;
      r.name = name.value;
      r.address = optional_string(item, hctx, "address").value_or(r.name);
      if (r.address.empty() || r.address.find_first_of(" \t[]@") != std::string::npos)
        fail(item, hctx, "address: expected a host name or IP address");
      r.port = optional_int(item, hctx, "port", 1, 65535).value_or(22);
      // Never accept a host key silently: without one the client could not check the host.
      if (!given(item["host_key"]))
        fail(item, hctx, "'host_key' is required: the public key the host presents");
      std::vector<located> keys;
      if (item["host_key"].IsSequence()) {
        keys = string_list(item["host_key"], hctx, "host_key");
      } else {
        keys.push_back(required_string(item, hctx, "host_key"));
      }
      if (keys.empty()) fail(item["host_key"], hctx, "host_key: give at least one key");
      for (const auto& k : keys) r.host_keys.push_back(host_key(k, hctx));
      in.resources.push_back(std::move(r));
    }
    if (in.resources.empty()) fail(list, ctx, "resources: give at least one host");
  }

  // "TYPE BASE64 [comment]" -> "TYPE BASE64".
  std::string host_key(const located& k, std::string_view ctx) const {
    std::istringstream words(k.value);
    std::string type, blob;
    words >> type >> blob;
    if (!host_key_types.contains(type)) {
      fail(k.mark, ctx,
           "host_key: expected a public key such as 'ssh-ed25519 AAAA...' (as in the host's "
           "/etc/ssh/ssh_host_ed25519_key.pub)");
    }
    bool base64 = !blob.empty() && std::all_of(blob.begin(), blob.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=';
    });
    if (!base64 || blob.size() % 4 != 0) fail(k.mark, ctx, "host_key: the key is not valid base64");
    return type + " " + blob;
  }

  void read_ssh_logins(const YAML::Node& n, std::string_view ctx, integration_config& in) const {
    const YAML::Node list = n["permissions"];
    if (!given(list)) fail(n, ctx, "'permissions' is required: the logins it grants");
    if (!list.IsSequence()) fail(list, ctx, "permissions: expected a list of logins");
    std::set<std::string, std::less<>> seen;
    for (const auto& item : list) {
      permission_config p;
      YAML::Mark mark = item.Mark();
      if (item.IsScalar()) {
        p.name = item.Scalar();
      } else if (item.IsMap()) {
        check_keys(item, ctx, {"name", "login", "principal", "extensions"});
        p.name = required_string(item, ctx, "name").value;
        const std::string pctx = std::string(ctx) + ": permission '" + p.name + "'";
        p.login = optional_string(item, pctx, "login").value_or("");
        p.principal = optional_string(item, pctx, "principal").value_or("");
        if (given(item["extensions"])) {
          for (auto& e : string_list(item["extensions"], pctx, "extensions")) {
            if (!ssh_extensions.contains(e.value)) {
              fail(e.mark, pctx,
                   "unknown extension '" + e.value +
                       "' (known: no-touch-required, permit-X11-forwarding, "
                       "permit-agent-forwarding, permit-port-forwarding, permit-pty, "
                       "permit-user-rc)");
            }
            p.extensions.push_back(std::move(e.value));
          }
        } else {
          p.extensions = default_ssh_extensions();
        }
      } else {
        fail(item, ctx, "permissions: expected a login or {name: ..., login: ...}");
      }
      if (item.IsScalar()) p.extensions = default_ssh_extensions();
      if (p.login.empty()) p.login = p.name;
      if (p.principal.empty()) p.principal = p.login;
      if (!is_ssh_name(p.name) || !is_ssh_name(p.login) || !is_ssh_name(p.principal)) {
        fail(mark, ctx,
             "permission '" + p.name +
                 "': names, logins and principals use letters, digits, _ - . @ only");
      }
      if (!seen.insert(p.name).second) fail(mark, ctx, "duplicate permission '" + p.name + "'");
      in.permissions.push_back(std::move(p));
    }
    if (in.permissions.empty()) fail(list, ctx, "permissions: give at least one login");
  }

  // An https URL without path or query: what the AWS and Kubernetes clients are given.
  std::string https_url(const YAML::Node& n, std::string_view ctx, const std::string& key,
                        std::string fallback) const {
    auto url = optional_string(n, ctx, key).value_or(std::move(fallback));
    if (url.empty()) fail(n, ctx, "'" + key + "' is required");
    while (url.size() > 8 && url.ends_with('/')) url.pop_back();
    bool ok = url.starts_with("https://") && url.size() > 8 &&
              url.find_first_of("/?# \t", 8) == std::string::npos;
    if (!ok)
      fail(given(n[key]) ? n[key] : n, ctx,
           key + ": expected an https URL without a path, e.g. https://" +
               (key == "server" ? "10.0.0.1:6443" : key.substr(0, 3) + ".amazonaws.com"));
    return url;
  }

  std::filesystem::path pem_file(const YAML::Node& n, std::string_view ctx, const std::string& key,
                                 std::string* pem_out) const {
    auto path = optional_string(n, ctx, key);
    if (!path) return {};
    std::ifstream f(*path, std::ios::binary);
    std::string pem((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (!f.is_open()) fail(n[key], ctx, key + ": cannot read " + *path);
    if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
      fail(n[key], ctx, key + ": " + *path + " holds no PEM certificate");
    if (pem_out) *pem_out = std::move(pem);
    return fs::absolute(*path);
  }

  // A secret from the file, or else from the environment (never echoed in messages).
  std::string secret_value(const YAML::Node& n, std::string_view ctx, const std::string& key,
                           const char* env) const {
    if (auto v = optional_string(n, ctx, key)) {
      if (v->empty()) fail(n[key], ctx, "'" + key + "' must not be empty");
      return *v;
    }
    const char* e = env ? std::getenv(env) : nullptr;
    return e ? std::string(e) : std::string();
  }

  // Accounts are resources and roles are permissions: `{account}` in a role ARN lets one
  // permission name the same role in every account.
  void read_aws(const YAML::Node& n, std::string_view ctx, integration_config& in) const {
    in.region = optional_string(n, ctx, "region").value_or("us-east-1");
    bool region_ok =
        !in.region.empty() && std::all_of(in.region.begin(), in.region.end(), [](char c) {
          return std::islower(static_cast<unsigned char>(c)) ||
                 std::isdigit(static_cast<unsigned char>(c)) || c == '-';
        });
    if (!region_ok) fail(n["region"], ctx, "region: expected an AWS region such as us-east-1");
    in.endpoint = https_url(n, ctx, "sts_endpoint", "https://sts.amazonaws.com");
    in.iam_endpoint = https_url(n, ctx, "iam_endpoint", "https://iam.amazonaws.com");
    in.ca_file = pem_file(n, ctx, "ca_file", nullptr);
    in.access_key_id = secret_value(n, ctx, "access_key_id", "AWS_ACCESS_KEY_ID");
    in.secret_access_key = secret_value(n, ctx, "secret_access_key", "AWS_SECRET_ACCESS_KEY");
    in.session_token = secret_value(n, ctx, "session_token", "AWS_SESSION_TOKEN");
    if (in.access_key_id.empty() || in.secret_access_key.empty())
      fail(n, ctx,
           "the broker's AWS credentials are missing: give access_key_id and secret_access_key, "
           "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for aponod");
    read_resources(n["resources"], ctx, in);
    if (in.resources.empty()) fail(n, ctx, "'resources' is required: the account ids");
    for (const auto& r : in.resources) {
      if (r.name.size() != 12 || r.name.find_first_not_of("0123456789") != std::string::npos)
        fail(n["resources"], ctx,
             "resources: '" + r.name + "' is not a 12-digit AWS account id (quote it in YAML)");
    }
    const YAML::Node list = n["permissions"];
    if (!given(list) || !list.IsSequence())
      fail(given(list) ? list : n, ctx,
           "permissions: expected a list of {name: ..., role_arn: ..., max_session: ...}");
    std::set<std::string, std::less<>> seen;
    for (const auto& item : list) {
      if (!item.IsMap()) fail(item, ctx, "permissions: expected {name: ..., role_arn: ...}");
      check_keys(item, ctx, {"name", "role_arn", "max_session"});
      permission_config p;
      auto name = required_string(item, ctx, "name");
      p.name = name.value;
      const std::string pctx = std::string(ctx) + ": permission '" + p.name + "'";
      if (!seen.insert(p.name).second)
        fail(name.mark, ctx, "duplicate permission '" + p.name + "'");
      auto arn = required_string(item, pctx, "role_arn");
      static const std::regex role_arn(
          R"(arn:aws[a-z-]*:iam::(\d{12}|\{account\}):role/[\w+=,.@/-]{1,512})");
      if (!std::regex_match(arn.value, role_arn))
        fail(arn.mark, pctx,
             "role_arn: expected arn:aws:iam::ACCOUNT:role/NAME (ACCOUNT may be {account})");
      p.role_arn = arn.value;
      if (given(item["max_session"])) {
        p.max_session = duration(item["max_session"], pctx, "max_session");
        if (p.max_session < std::chrono::seconds{900} || p.max_session > std::chrono::hours{12})
          fail(item["max_session"], pctx,
               "max_session: must be between 15m and 12h (the role's MaxSessionDuration)");
      }
      in.permissions.push_back(std::move(p));
    }
    if (in.permissions.empty()) fail(list, ctx, "permissions: give at least one role");
  }

  // Namespaces are resources and ClusterRoles are permissions, bound per grant by a RoleBinding.
  void read_kubernetes(const YAML::Node& n, std::string_view ctx, integration_config& in) const {
    in.endpoint = https_url(n, ctx, "server", "");
    in.ca_file = pem_file(n, ctx, "ca_file", &in.ssl_root_cert);
    in.audience = optional_string(n, ctx, "audience").value_or("");
    if (given(n["token"]) && given(n["token_file"]))
      fail(n, ctx, "give 'token' or 'token_file', not both");
    if (auto file = optional_string(n, ctx, "token_file")) {
      std::ifstream f(*file, std::ios::binary);
      std::string token((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      if (!f.is_open()) fail(n["token_file"], ctx, "token_file: cannot read " + *file);
      while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back())))
        token.pop_back();
      in.token = std::move(token);
    } else {
      in.token = optional_string(n, ctx, "token").value_or("");
    }
    if (in.token.empty())
      fail(n, ctx, "the broker's Kubernetes credentials are missing: give 'token' or 'token_file'");
    if (in.token.find_first_of(" \t\r\n") != std::string::npos)
      fail(n, ctx, "token: a bearer token has no spaces or line breaks (the value is not shown)");
    read_resources(n["resources"], ctx, in);
    if (in.resources.empty()) fail(n, ctx, "'resources' is required: the namespaces");
    static const std::regex dns_label(R"([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)");
    for (const auto& r : in.resources) {
      if (!std::regex_match(r.name, dns_label))
        fail(n["resources"], ctx, "resources: '" + r.name + "' is not a valid namespace name");
    }
    const YAML::Node list = n["permissions"];
    if (!given(list) || !list.IsSequence())
      fail(given(list) ? list : n, ctx,
           "permissions: expected a list of ClusterRole names or {name: ..., cluster_role: ...}");
    std::set<std::string, std::less<>> seen;
    static const std::regex role_name(R"([a-z0-9]([-a-z0-9.:]{0,251}[a-z0-9])?)");
    for (const auto& item : list) {
      permission_config p;
      YAML::Mark mark = item.Mark();
      if (item.IsScalar()) {
        p.name = item.Scalar();
      } else if (item.IsMap()) {
        check_keys(item, ctx, {"name", "cluster_role"});
        p.name = required_string(item, ctx, "name").value;
        p.cluster_role = optional_string(item, ctx, "cluster_role").value_or("");
      } else {
        fail(item, ctx,
             "permissions: expected a ClusterRole name or {name: ..., cluster_role: ...}");
      }
      if (p.cluster_role.empty()) p.cluster_role = p.name;
      if (p.name.empty() || !std::regex_match(p.cluster_role, role_name))
        fail(mark, ctx,
             "permission '" + p.name + "': '" + p.cluster_role +
                 "' is not a valid ClusterRole name");
      if (!seen.insert(p.name).second) fail(mark, ctx, "duplicate permission '" + p.name + "'");
      in.permissions.push_back(std::move(p));
    }
    if (in.permissions.empty()) fail(list, ctx, "permissions: give at least one ClusterRole");
  }

  void read_postgres_endpoint(const YAML::Node& n, std::string_view ctx,
                              integration_config& in) const {
    auto url = required_string(n, ctx, "admin_url");
    auto endpoint = parse_admin_url(url.value);
    if (!endpoint) {
      fail(url.mark, ctx,
           "admin_url: libpq cannot parse it as a connection URI or key=value string (the "
           "value is not shown: it holds a password)");
    }
    if (endpoint->bad_port) fail(url.mark, ctx, "admin_url: port must be between 1 and 65535");
    in.admin_url = std::move(url.value);
    if (auto host = optional_string(n, ctx, "host")) {
      if (host->empty()) fail(n["host"], ctx, "host: must not be empty");
      in.host = *host;
    } else if (endpoint->host.empty() || endpoint->host.front() == '/') {
      fail(n, ctx, "give 'host': admin_url names no TCP host for clients to connect to");
    } else {
      in.host = endpoint->host;
    }
    in.port = optional_int(n, ctx, "port", 1, 65535).value_or(endpoint->port.value_or(5432));
    if (auto mode = optional_string(n, ctx, "sslmode")) {
      if (!sslmodes.contains(*mode)) {
        fail(n["sslmode"], ctx,
             "sslmode: '" + *mode +
                 "' is not one of disable, allow, prefer, require, verify-ca, verify-full");
      }
      in.sslmode = *mode;
    }
    // The CA is read now, so a missing file is a config error rather than a failed connect
    // on a user's machine; clients get its text with the access details.
    if (auto root = optional_string(n, ctx, "sslrootcert")) {
      std::ifstream f(*root, std::ios::binary);
      std::string pem((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      if (!f.good() && !f.eof()) fail(n["sslrootcert"], ctx, "sslrootcert: cannot read " + *root);
      if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
        fail(n["sslrootcert"], ctx, "sslrootcert: " + *root + " holds no PEM certificate");
      in.ssl_root_cert = std::move(pem);
    }
    if ((in.sslmode == "verify-ca" || in.sslmode == "verify-full") && in.ssl_root_cert.empty())
      fail(n, ctx, "sslmode " + in.sslmode + " needs 'sslrootcert': the CA clients verify with");
  }

  void read_resources(const YAML::Node& list, std::string_view ctx, integration_config& in) const {
    if (!given(list)) return;
    if (!list.IsSequence()) fail(list, ctx, "resources: expected a list");
    std::map<std::string, YAML::Mark, std::less<>> seen;
    for (const auto& item : list) {
      located name;
      if (item.IsScalar()) {
        name = {item.Scalar(), item.Mark()};
      } else if (item.IsMap()) {
        check_keys(item, ctx, {"name"});
        name = required_string(item, ctx, "name");
      } else {
        fail(item, ctx, "resources: expected a name or {name: ...}");
      }
      if (name.value.empty()) fail(name.mark, ctx, "resources: empty name");
      if (auto [it, fresh] = seen.emplace(name.value, name.mark); !fresh) {
        fail(name.mark, ctx,
             "duplicate resource '" + name.value + "' (first on line " +
                 std::to_string(it->second.line + 1) + ")");
      }
      in.resources.push_back({std::move(name.value)});
    }
  }

  void read_permissions(const YAML::Node& n, std::string_view ctx, integration_config& in) const {
    if (!given(n)) {
      for (const char* name : {"read_only", "read_write", "admin"}) {
        in.permissions.push_back({name, default_postgres_grants(name)});
      }
      return;
    }
    // A list of names is shorthand for mapping each to `default`.
    if (n.IsSequence()) {
      std::set<std::string, std::less<>> seen;
      for (auto& name : string_list(n, ctx, "permissions")) {
        if (!seen.insert(name.value).second) {
          fail(name.mark, ctx, "duplicate permission '" + name.value + "'");
        }
        in.permissions.push_back({name.value, defaults_for(name, ctx)});
      }
      return;
    }
    if (!n.IsMap()) fail(n, ctx, "permissions: expected a mapping of name to SQL, or a list");
    check_keys(n, ctx, {}, true);
    for (auto it = n.begin(); it != n.end(); ++it) {
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      located name{key.Scalar(), key.Mark()};
      permission_config p;
      p.name = name.value;
      if (!given(value) || (value.IsScalar() && value.Scalar() == "default")) {
        p.grants = defaults_for(name, ctx);
      } else if (value.IsSequence()) {
        const std::string pctx = std::string(ctx) + ": permission '" + p.name + "'";
        for (auto& sql : string_list(value, pctx, "statements")) {
          check_template(sql, pctx);
          p.grants.push_back(std::move(sql.value));
        }
        if (p.grants.empty()) fail(value, pctx, "give at least one statement");
      } else {
        fail(value, ctx,
             "permission '" + p.name + "': expected 'default' or a list of SQL statements");
      }
      in.permissions.push_back(std::move(p));
    }
  }

  std::vector<std::string> defaults_for(const located& name, std::string_view ctx) const {
    auto grants = default_postgres_grants(name.value);
    if (grants.empty()) {
      fail(name.mark, ctx,
           "permission '" + name.value +
               "' has no SQL: give a list of statements or use read_only, read_write or admin");
    }
    return grants;
  }

  // Placeholders are replaced by quoted identifiers, so quoting them again, or a misspelt
  // one left in the SQL, would only fail at grant time, on a live request.
  void check_template(const located& sql, std::string_view ctx) const {
    const std::string& s = sql.value;
    for (std::size_t open = s.find('{'); open != std::string::npos; open = s.find('{', open + 1)) {
      auto close = s.find('}', open);
      if (close == std::string::npos) break;
      auto word = s.substr(open, close - open + 1);
      if (word != "{role}" && word != "{database}") {
        fail(sql.mark, ctx, "unknown placeholder " + word + " (use {role} and {database})");
      }
      bool quoted = open > 0 && close + 1 < s.size() &&
                    (s[open - 1] == '"' || s[open - 1] == '\'') && s[close + 1] == s[open - 1];
      if (quoted) {
        fail(sql.mark, ctx,
             "write " + word + " without quotes: it is replaced by a quoted identifier");
      }
    }
  }

  principals read_principals(const YAML::Node& n, std::string_view ctx,
                             std::string_view key) const {
    principals p;
    if (!given(n)) return p;
    if (!n.IsMap()) fail(n, ctx, std::string(key) + ": expected {users: [...], groups: [...]}");
    check_keys(n, std::string(ctx) + ": " + std::string(key), {"users", "groups"});
    for (auto& user : string_list(n["users"], ctx, "users")) {
      if (!users_.contains(user.value)) fail(user.mark, ctx, "unknown user '" + user.value + "'");
      p.users.push_back(std::move(user.value));
    }
    for (auto& group : string_list(n["groups"], ctx, "groups")) {
      if (!groups_.contains(group.value)) {
        fail(group.mark, ctx, "unknown group '" + group.value + "'");
      }
      p.groups.push_back(std::move(group.value));
    }
    return p;
  }

  // The integration a target names, checked to exist.
  const integration_config& target_integration(const YAML::Node& target,
                                               std::string_view ctx) const {
    auto id = required_string(target, ctx, "integration");
    const auto* in = cfg_->find_integration(id.value);
    if (!in) fail(id.mark, ctx, "unknown integration '" + id.value + "'");
    return *in;
  }

  static bool has_permission(const integration_config& in, std::string_view name) {
    return std::any_of(in.permissions.begin(), in.permissions.end(),
                       [&](const permission_config& p) { return p.name == name; });
  }

  std::vector<std::string> target_permissions(const YAML::Node& target, std::string_view ctx,
                                              const integration_config& in, bool star_ok) const {
    if (!given(target["permissions"])) fail(target, ctx, "'permissions' is required");
    std::vector<std::string> out;
    for (auto& p : string_list(target["permissions"], ctx, "permissions")) {
      if (!(star_ok && p.value == "*") && !has_permission(in, p.value)) {
        fail(p.mark, ctx, "integration '" + in.id + "' has no permission '" + p.value + "'");
      }
      out.push_back(std::move(p.value));
    }
    if (out.empty()) fail(target["permissions"], ctx, "permissions: give at least one");
    return out;
  }

  // A target's list of resources (patterns for flows, names for bundles), required non-empty.
  std::vector<located> target_resources(const YAML::Node& target, std::string_view ctx) const {
    if (!given(target["resources"])) fail(target, ctx, "'resources' is required");
    auto out = string_list(target["resources"], ctx, "resources");
    if (out.empty()) fail(target["resources"], ctx, "resources: give at least one");
    return out;
  }

  // Required, non-empty list of targets.
  YAML::Node target_list(const YAML::Node& n, std::string_view ctx) const {
    const YAML::Node targets = n["targets"];
    if (!given(targets)) fail(n, ctx, "'targets' is required");
    if (!targets.IsSequence()) fail(targets, ctx, "targets: expected a list");
    if (targets.size() == 0) fail(targets, ctx, "targets: give at least one");
    return targets;
  }

  access_flow_config read_flow(const YAML::Node& n, std::size_t index) {
    expect_map(n, numbered("access flow", index));
    const std::string ctx = label(n, "name", "access flow", index);
    check_keys(n, ctx,
               {"name", "requestors", "targets", "approval", "approvers", "max_duration",
                "default_duration", "justification_required"});
    auto name = required_string(n, ctx, "name");
    unique(flows_, name, "access flow");
    access_flow_config f;
    f.name = name.value;
    if (!given(n["requestors"])) fail(n, ctx, "'requestors' is required");
    f.requestors = read_principals(n["requestors"], ctx, "requestors");
    for (const auto& t : target_list(n, ctx)) {
      expect_map(t, ctx + ": target");
      check_keys(t, ctx, {"integration", "resources", "permissions"});
      flow_target target;
      const auto& in = target_integration(t, ctx);
      target.integration = in.id;
      for (auto& r : target_resources(t, ctx)) target.resources.push_back(std::move(r.value));
      target.permissions = target_permissions(t, ctx, in, true);
      f.targets.push_back(std::move(target));
    }
    if (auto approval = optional_string(n, ctx, "approval")) {
      if (*approval != "automatic" && *approval != "manual") {
        fail(n["approval"], ctx, "approval must be automatic or manual, not '" + *approval + "'");
      }
      f.automatic = *approval == "automatic";
    }
    f.approvers = read_principals(n["approvers"], ctx, "approvers");
    if (!f.automatic && f.approvers.users.empty() && f.approvers.groups.empty()) {
      fail(n["approval"], ctx, "manual approval needs approvers (users or groups)");
    }
    if (given(n["max_duration"])) f.max_duration = duration(n["max_duration"], ctx, "max_duration");
    if (given(n["default_duration"])) {
      f.default_duration = duration(n["default_duration"], ctx, "default_duration");
      if (f.default_duration > f.max_duration) {
        fail(n["default_duration"], ctx,
             "default_duration " + common::format_duration(f.default_duration) +
                 " is longer than max_duration " + common::format_duration(f.max_duration));
      }
    } else {
      f.default_duration = std::min(f.default_duration, f.max_duration);
    }
    f.justification_required =
        optional_bool(n, ctx, "justification_required").value_or(f.justification_required);
    return f;
  }

  bundle_config read_bundle(const YAML::Node& n, std::size_t index) {
    expect_map(n, numbered("bundle", index));
    const std::string ctx = label(n, "name", "bundle", index);
    check_keys(n, ctx, {"name", "targets"});
    auto name = required_string(n, ctx, "name");
    unique(bundles_, name, "bundle");
    bundle_config b;
    b.name = name.value;
    for (const auto& t : target_list(n, ctx)) {
      expect_map(t, ctx + ": target");
      check_keys(t, ctx, {"integration", "resources", "permissions"});
      bundle_target target;
      const auto& in = target_integration(t, ctx);
      target.integration = in.id;
      for (auto& r : target_resources(t, ctx)) {
        bool known = std::any_of(in.resources.begin(), in.resources.end(),
                                 [&](const resource_config& rc) { return rc.name == r.value; });
        if (!known) {
          fail(r.mark, ctx, "integration '" + in.id + "' has no resource '" + r.value + "'");
        }
        target.resources.push_back(std::move(r.value));
      }
      target.permissions = target_permissions(t, ctx, in, false);
      b.targets.push_back(std::move(target));
    }
    return b;
  }

  fs::path path_;
  const config* cfg_ = nullptr;  // for integration lookups once integrations are read
  std::map<std::string, YAML::Mark, std::less<>> users_, groups_, integrations_, flows_, bundles_;
  std::map<std::string, std::string, std::less<>> token_owners_;  // hash -> user name
};

template <class T, class Key>
const T* find_by(const std::vector<T>& items, std::string_view name, Key key) {
  auto it =
      std::find_if(items.begin(), items.end(), [&](const T& item) { return item.*key == name; });
  return it == items.end() ? nullptr : &*it;
}

}  // namespace

const resource_config* integration_config::find_resource(std::string_view n) const {
  return find_by(resources, n, &resource_config::name);
}

const permission_config* integration_config::find_permission(std::string_view n) const {
  return find_by(permissions, n, &permission_config::name);
}

const integration_config* config::find_integration(std::string_view id) const {
  return find_by(integrations, id, &integration_config::id);
}

const user_config* config::find_user(std::string_view name) const {
  return find_by(users, name, &user_config::name);
}

const access_flow_config* config::find_flow(std::string_view name) const {
  return find_by(flows, name, &access_flow_config::name);
}

const bundle_config* config::find_bundle(std::string_view name) const {
  return find_by(bundles, name, &bundle_config::name);
}

bool config::matches(const principals& p, std::string_view user) const {
  if (std::find(p.users.begin(), p.users.end(), user) != p.users.end()) return true;
  for (const auto& group_name : p.groups) {
    auto g = std::find_if(groups.begin(), groups.end(),
                          [&](const group_config& gc) { return gc.name == group_name; });
    if (g != groups.end() &&
        std::find(g->members.begin(), g->members.end(), user) != g->members.end()) {
      return true;
    }
  }
  return false;
}

std::shared_ptr<const config> parse_config(const std::string& yaml, const fs::path& path) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    throw config_error(one_line(path.string() + ":" + std::to_string(e.mark.line + 1) +
                                ": invalid YAML: " + e.msg));
  }
  return loader(path).load(root);
}

std::shared_ptr<const config> load_config(const fs::path& path) {
  auto cannot_read = [&](int err) {
    return config_error(one_line(path.string() + ": cannot read: " + std::strerror(err)));
  };
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) throw cannot_read(errno);
  std::string text;
  char buf[8192];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, file.get())) text.append(buf, n);
  if (std::ferror(file.get())) throw cannot_read(errno);
  return parse_config(text, path);
}

std::vector<std::string> default_ssh_extensions() {
  return {"permit-agent-forwarding", "permit-port-forwarding", "permit-pty"};
}

bool is_ssh_extension(std::string_view name) {
  return ssh_extensions.contains(name);
}

std::vector<std::string> default_postgres_grants(std::string_view permission) {
  std::vector<std::string> read_only = {
      "GRANT CONNECT ON DATABASE {database} TO {role}",
      "GRANT USAGE ON SCHEMA public TO {role}",
      "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
      "GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
  };
  if (permission == "read_only") return read_only;
  if (permission == "read_write") {
    read_only.push_back("GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}");
    read_only.push_back("GRANT USAGE, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}");
    return read_only;
  }
  if (permission == "admin") {
    return {
        "GRANT ALL PRIVILEGES ON DATABASE {database} TO {role}",
        "GRANT ALL ON SCHEMA public TO {role}",
        "GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}",
        "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}",
    };
  }
  return {};
}

}  // namespace apono::broker
