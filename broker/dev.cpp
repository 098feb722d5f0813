// Dev mode setup. The catalog lists the target's real databases, so what a user sees in the
// demo is what is actually there.
#include "broker/dev.hpp"

#include <libpq-fe.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "broker/store/open_store.hpp"
#include "broker/store/secret_box.hpp"
#include "common/secrets.hpp"

namespace apono::broker {

namespace json = boost::json;

namespace {

struct dev_user {
  const char* name;
  const char* role;
  bool admin;
};

constexpr dev_user dev_users[] = {
    {"admin", "admin", true},
    {"approver", "approver", false},
    {"alice", "user", false},
    {"bob", "user", false},
};

std::filesystem::path credentials_path(const std::filesystem::path& dir) {
  return dir / "dev-credentials.json";
}

// What a dev user signs in with: a bearer token for the API and a password for browser login.
struct dev_secrets {
  std::string token;
  std::string password;
};

// Secrets from an earlier run, by user name; empty when there was none. A file from before
// passwords existed still yields its tokens.
std::map<std::string, dev_secrets> previous_secrets(const std::filesystem::path& dir) {
  std::map<std::string, dev_secrets> out;
  std::error_code ec;
  if (!std::filesystem::exists(credentials_path(dir), ec)) return out;
  try {
    auto v = json::parse(common::read_file(credentials_path(dir)));
    for (const auto& u : v.at("users").as_array()) {
      auto& s = out[std::string(u.at("name").as_string())];
      s.token = std::string(u.at("token").as_string());
      if (const auto* pw = u.as_object().if_contains("password"); pw && pw->is_string())
        s.password = std::string(pw->get_string());
    }
  } catch (const std::exception& e) {
    spdlog::warn("ignoring unreadable {}: new tokens are issued", credentials_path(dir).string());
    out.clear();
  }
  return out;
}

std::map<std::string, dev_secrets> secrets_for(const std::filesystem::path& dir) {
  auto secrets = previous_secrets(dir);
  for (const auto& u : dev_users) {
    auto& s = secrets[u.name];
    if (s.token.empty()) s.token = common::random_token();
    if (s.password.empty()) s.password = common::random_password(16);
  }
  return secrets;
}

json::array users_json(std::map<std::string, dev_secrets>& secrets) {
  json::array users;
  for (const auto& u : dev_users)
    users.push_back(json::object{{"name", u.name},
                                 {"role", u.role},
                                 {"admin", u.admin},
                                 {"token", secrets[u.name].token},
                                 {"password", secrets[u.name].password}});
  return users;
}

struct target_facts {
  std::string host = "127.0.0.1";
  std::string port = "5432";
  std::vector<std::string> databases;
};

target_facts inspect_target(const std::string& url) {
  target_facts f;
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> opts(
      PQconninfoParse(url.c_str(), &err), &PQconninfoFree);
  if (!opts) {
    std::string msg = err ? err : "invalid";
    PQfreemem(err);
    throw std::runtime_error("--pg-target is not a valid PostgreSQL URL: " + msg);
  }
  std::string dbname = "postgres";
  for (auto* o = opts.get(); o->keyword; ++o) {
    if (!o->val || !*o->val) continue;
    std::string k = o->keyword;
    if (k == "host") f.host = o->val;
    if (k == "hostaddr" && f.host == "127.0.0.1") f.host = o->val;
    if (k == "port") f.port = o->val;
    if (k == "dbname") dbname = o->val;
  }
  std::string conninfo = url;
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(conninfo.c_str()), &PQfinish);
  if (PQstatus(conn.get()) == CONNECTION_OK) {
    std::unique_ptr<PGresult, decltype(&PQclear)> res(
        PQexec(conn.get(),
               "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate "
               "ORDER BY datname"),
        &PQclear);
    if (PQresultStatus(res.get()) == PGRES_TUPLES_OK)
      for (int i = 0; i < PQntuples(res.get()); ++i)
        f.databases.emplace_back(PQgetvalue(res.get(), i, 0));
  } else {
    spdlog::warn("dev: cannot reach the PostgreSQL target yet; the catalog lists only '{}'",
                 dbname);
  }
  if (f.databases.empty()) f.databases.push_back(dbname);
  return f;
}

// "HOST:PORT" (or "[v6]:PORT") -> host, port; throws std::runtime_error.
std::pair<std::string, int> split_host_port(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size())
    throw std::runtime_error("--ssh-target must be HOST:PORT, got '" + s + "'");
  std::string host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(s.substr(colon + 1));
  } catch (const std::exception&) {
  }
  if (port < 1 || port > 65535)
    throw std::runtime_error("--ssh-target must be HOST:PORT, got '" + s + "'");
  return {host, port};
}

void emit_principals(YAML::Emitter& y, const char* key, std::vector<std::string> users,
                     std::vector<std::string> groups) {
  y << YAML::Key << key << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "users" << YAML::Value << YAML::Flow << users;
  y << YAML::Key << "groups" << YAML::Value << YAML::Flow << groups;
  y << YAML::EndMap;
}

// The items of `key` in the --dev-extra file (none when absent).
std::vector<YAML::Node> extra_list(const YAML::Node& extra, const char* key) {
  std::vector<YAML::Node> out;
  if (!extra.IsDefined() || extra.IsNull() || !extra[key]) return out;
  if (!extra[key].IsSequence())
    throw std::runtime_error(std::string("--dev-extra: ") + key + " must be a list");
  for (const auto& item : extra[key]) out.push_back(item);
  return out;
}

}  // namespace

std::filesystem::path prepare_dev(const dev_options& o) {
  common::ensure_private_dir(o.data_dir);
  auto secrets = secrets_for(o.data_dir);
  auto target = inspect_target(o.pg_target);

  YAML::Emitter y;
  y << YAML::Comment("Written by aponod --dev; rewritten at every dev start.");
  y << YAML::BeginMap;
  y << YAML::Key << "server" << YAML::Value << YAML::BeginMap;
  y << YAML::Key << "listen" << YAML::Value << o.listen;
  y << YAML::Key << "data_dir" << YAML::Value << o.data_dir.string();
  if (!o.token_ttl.empty()) y << YAML::Key << "token_ttl" << YAML::Value << o.token_ttl;
  y << YAML::EndMap;
  if (!o.portal_idle_timeout.empty() || !o.portal_session_lifetime.empty()) {
    y << YAML::Key << "portal" << YAML::Value << YAML::BeginMap;
    if (!o.portal_idle_timeout.empty())
      y << YAML::Key << "idle_timeout" << YAML::Value << o.portal_idle_timeout;
    if (!o.portal_session_lifetime.empty())
      y << YAML::Key << "session_lifetime" << YAML::Value << o.portal_session_lifetime;
    y << YAML::EndMap;
  }
  if (!o.store.empty()) {
    auto where = parse_store_location(o.store);
    y << YAML::Key << "store" << YAML::Value << YAML::BeginMap;
    y << YAML::Key << "type" << YAML::Value << where.type;
    if (where.type == "postgresql") {
      y << YAML::Key << "url" << YAML::Value << where.url;
      // Replicas of a dev broker get a copy of the data dir's key, as real ones share a file.
      auto key = o.data_dir / "store.key";
      if (!std::filesystem::exists(key))
        common::write_private_file(key, secret_box::generate_key_line("dev1") + "\n");
      y << YAML::Key << "key_file" << YAML::Value << key.string();
    } else {
      y << YAML::Key << "path" << YAML::Value << std::filesystem::absolute(where.path).string();
    }
    y << YAML::EndMap;
  }

  y << YAML::Key << "users" << YAML::Value << YAML::BeginSeq;
  for (const auto& u : dev_users) {
    y << YAML::BeginMap;
    y << YAML::Key << "name" << YAML::Value << u.name;
    y << YAML::Key << "email" << YAML::Value << std::string(u.name) + "@example.com";
    y << YAML::Key << "admin" << YAML::Value << u.admin;
    y << YAML::Key << "token_sha256" << YAML::Value << YAML::Flow
      << std::vector<std::string>{common::sha256_hex(secrets[u.name].token)};
    // The fewest iterations allowed: 16 random characters (95 bits) need no stretching, and
    // every dev start hashes them again.
    y << YAML::Key << "password_hash" << YAML::Value
      << common::hash_password(secrets[u.name].password, common::min_password_iterations);
    y << YAML::EndMap;
  }
  y << YAML::EndSeq;

  y << YAML::Key << "groups" << YAML::Value << YAML::BeginSeq;
  y << YAML::BeginMap << YAML::Key << "name" << YAML::Value << "engineers" << YAML::Key << "members"
    << YAML::Value << YAML::Flow << std::vector<std::string>{"alice", "bob"} << YAML::EndMap;
  y << YAML::BeginMap << YAML::Key << "name" << YAML::Value << "approvers" << YAML::Key << "members"
    << YAML::Value << YAML::Flow << std::vector<std::string>{"approver"} << YAML::EndMap;
  y << YAML::EndSeq;

  // Checked now so a typo fails before anything is written; the loader validates the items.
  YAML::Node extra;
  if (!o.extra.empty()) {
    try {
      extra = YAML::LoadFile(o.extra.string());
    } catch (const YAML::Exception& e) {
      throw std::runtime_error("--dev-extra " + o.extra.string() + ": " + e.what());
    }
    if (!extra.IsMap())
      throw std::runtime_error("--dev-extra " + o.extra.string() +
                               ": expected a mapping with integrations, access_flows or "
                               "notifications");
    for (const auto& kv : extra) {
      auto key = kv.first.as<std::string>();
      if (key != "integrations" && key != "access_flows" && key != "notifications")
        throw std::runtime_error("--dev-extra " + o.extra.string() + ": unknown key '" + key +
                                 "' (only integrations, access_flows and notifications are added)");
    }
  }
  if (!o.ssh_target.empty() && o.ssh_host_key.empty())
    throw std::runtime_error("--ssh-target needs --ssh-host-key: the host key clients check");
  y << YAML::Key << "integrations" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  y << YAML::Key << "id" << YAML::Value << "pg-local";
  y << YAML::Key << "name" << YAML::Value << "Local PostgreSQL";
  y << YAML::Key << "type" << YAML::Value << "postgresql";
  y << YAML::Key << "admin_url" << YAML::Value << YAML::DoubleQuoted << o.pg_target;
  y << YAML::Key << "host" << YAML::Value << target.host;
  y << YAML::Key << "port" << YAML::Value << std::stoi(target.port);
  y << YAML::Key << "sslmode" << YAML::Value << "prefer";
  y << YAML::Key << "resources" << YAML::Value << YAML::Flow << target.databases;
  y << YAML::Key << "permissions" << YAML::Value << YAML::BeginMap;
  for (const char* p : {"read_only", "read_write", "admin"})
    y << YAML::Key << p << YAML::Value << "default";
  y << YAML::EndMap;
  y << YAML::EndMap;
  const bool ssh = !o.ssh_target.empty();
  if (ssh) {
    auto [host, port] = split_host_port(o.ssh_target);
    const std::string login = o.ssh_login.empty() ? "root" : o.ssh_login;
    y << YAML::BeginMap;
    y << YAML::Key << "id" << YAML::Value << "ssh-local";
    y << YAML::Key << "name" << YAML::Value << "Local SSH";
    y << YAML::Key << "type" << YAML::Value << "ssh";
    y << YAML::Key << "resources" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
    y << YAML::Key << "name" << YAML::Value << "local-sshd";
    y << YAML::Key << "address" << YAML::Value << host;
    y << YAML::Key << "port" << YAML::Value << port;
    y << YAML::Key << "host_key" << YAML::Value << o.ssh_host_key;
    y << YAML::EndMap << YAML::EndSeq;
    // The principal differs from the login, so the host's principals file decides who may
    // log in as whom, as in a real setup.
    y << YAML::Key << "permissions" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
    y << YAML::Key << "name" << YAML::Value << login;
    y << YAML::Key << "principal" << YAML::Value << "apono-" + login;
    y << YAML::EndMap << YAML::EndSeq;
    y << YAML::EndMap;
  }
  for (const auto& item : extra_list(extra, "integrations")) y << item;
  y << YAML::EndSeq;

  y << YAML::Key << "access_flows" << YAML::Value << YAML::BeginSeq;
  for (const auto& item : extra_list(extra, "access_flows")) y << item;
  if (ssh) {
    y << YAML::BeginMap;
    y << YAML::Key << "name" << YAML::Value << "engineers-ssh";
    emit_principals(y, "requestors", {}, {"engineers"});
    y << YAML::Key << "targets" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
    y << YAML::Key << "integration" << YAML::Value << "ssh-local";
    y << YAML::Key << "resources" << YAML::Value << YAML::Flow << std::vector<std::string>{"*"};
    y << YAML::Key << "permissions" << YAML::Value << YAML::Flow << std::vector<std::string>{"*"};
    y << YAML::EndMap << YAML::EndSeq;
    y << YAML::Key << "approval" << YAML::Value << "automatic";
    y << YAML::Key << "max_duration" << YAML::Value << "8h";
    y << YAML::Key << "default_duration" << YAML::Value << "1h";
    y << YAML::Key << "justification_required" << YAML::Value << true;
    y << YAML::EndMap;
  }
  y << YAML::BeginMap;
  y << YAML::Key << "name" << YAML::Value << "engineers-read-only";
  emit_principals(y, "requestors", {}, {"engineers"});
  y << YAML::Key << "targets" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  y << YAML::Key << "integration" << YAML::Value << "pg-local";
  y << YAML::Key << "resources" << YAML::Value << YAML::Flow << std::vector<std::string>{"*"};
  y << YAML::Key << "permissions" << YAML::Value << YAML::Flow
    << std::vector<std::string>{"read_only"};
  y << YAML::EndMap << YAML::EndSeq;
  y << YAML::Key << "approval" << YAML::Value << "automatic";
  y << YAML::Key << "max_duration" << YAML::Value << "8h";
  y << YAML::Key << "default_duration" << YAML::Value << "1h";
  y << YAML::Key << "justification_required" << YAML::Value << true;
  y << YAML::EndMap;
  y << YAML::BeginMap;
  y << YAML::Key << "name" << YAML::Value << "engineers-write";
  emit_principals(y, "requestors", {}, {"engineers"});
  y << YAML::Key << "targets" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  y << YAML::Key << "integration" << YAML::Value << "pg-local";
  y << YAML::Key << "resources" << YAML::Value << YAML::Flow << std::vector<std::string>{"*"};
  y << YAML::Key << "permissions" << YAML::Value << YAML::Flow
    << std::vector<std::string>{"read_write", "admin"};
  y << YAML::EndMap << YAML::EndSeq;
  y << YAML::Key << "approval" << YAML::Value << "manual";
  emit_principals(y, "approvers", {}, {"approvers"});
  y << YAML::Key << "max_duration" << YAML::Value << "4h";
  y << YAML::Key << "default_duration" << YAML::Value << "1h";
  y << YAML::Key << "justification_required" << YAML::Value << true;
  y << YAML::EndMap;
  y << YAML::EndSeq;

  y << YAML::Key << "bundles" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  y << YAML::Key << "name" << YAML::Value << "all-databases-read-only";
  y << YAML::Key << "targets" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  y << YAML::Key << "integration" << YAML::Value << "pg-local";
  y << YAML::Key << "resources" << YAML::Value << YAML::Flow << target.databases;
  y << YAML::Key << "permissions" << YAML::Value << YAML::Flow
    << std::vector<std::string>{"read_only"};
  y << YAML::EndMap << YAML::EndSeq;
  y << YAML::EndMap << YAML::EndSeq;
  // The extra file's notifications section as it is; the loader checks it like any config's.
  if (extra.IsDefined() && extra.IsMap() && extra["notifications"])
    y << YAML::Key << "notifications" << YAML::Value << extra["notifications"];
  y << YAML::EndMap;

  auto path = o.data_dir / "aponod.yaml";
  common::write_private_file(path, std::string(y.c_str()) + "\n");

  // Secrets are kept now, before the broker starts, so a crash right after start still leaves
  // a credentials file that matches the config; api_url stays null until the API listens,
  // which is what scripts wait for.
  json::object doc{{"api_url", nullptr}, {"ca_file", nullptr}, {"users", users_json(secrets)}};
  common::write_private_file(credentials_path(o.data_dir), json::serialize(doc) + "\n");
  return path;
}

void write_dev_credentials(const std::filesystem::path& data_dir, const std::string& api_url,
                           const std::filesystem::path& ca_file) {
  auto secrets = secrets_for(data_dir);
  json::object doc{
      {"api_url", api_url}, {"ca_file", ca_file.string()}, {"users", users_json(secrets)}};
  common::write_private_file(credentials_path(data_dir), json::serialize(doc) + "\n");
}

}  // namespace apono::broker
