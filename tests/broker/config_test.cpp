// Tests for the broker's YAML config: a full file read into the structs, defaults, every
// validation error with its FILE:LINE, the lookups, and the default PostgreSQL grants.
#include "broker/config.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;
using apono::broker::config;
using apono::broker::config_error;
using apono::broker::default_postgres_grants;
using apono::broker::default_ssh_extensions;
using apono::broker::parse_config;
using namespace std::chrono_literals;

namespace {

const std::string hash_a(64, 'a');
const std::string hash_b = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// Enough to hang a flow or a bundle on; tests append their own sections to it.
const std::string base = R"(users:
  - name: alice
  - name: bob
  - name: carol
groups:
  - name: engineers
    members: [alice, bob]
integrations:
  - id: pg-local
    type: postgresql
    admin_url: postgresql://postgres:s3cret@db.example:6432/postgres
    resources: [appdb, analytics]
)";  // 12 lines; the next section starts on line 13

// The what() of the config_error that `yaml` raises, or "" when it loads.
std::string error_of(const std::string& yaml) {
  try {
    (void)parse_config(yaml, "test.yaml");
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a full config is read into the structs", "[config]") {
  const std::string yaml = R"(server:
  listen: 0.0.0.0:9443
  data_dir: /var/lib/aponod
  tls_cert: server.pem
  tls_key: /etc/aponod/server-key.pem
  log_level: debug
  provision_workers: 8
users:
  - name: alice
    email: alice@example.com
    admin: false
    token_sha256: [)" + hash_a +
                           ", " + hash_b +
                           R"(]
  - name: carol
    admin: true
    token_sha256: ")" + std::string(64, 'c') +
                           R"("
groups:
  - name: engineers
    members: [alice]
integrations:
  - id: pg-local
    name: Local PostgreSQL
    type: postgresql
    admin_url: postgresql://postgres:secret@127.0.0.1:5432/postgres
    host: db.internal
    port: 15432
    sslmode: require
    resources: [appdb, {name: analytics}]
    permissions:
      read_only: default
      custom_perm:
        - GRANT CONNECT ON DATABASE {database} TO {role}
        - GRANT pg_read_all_data TO {role}
access_flows:
  - name: engineers-read
    requestors: {users: [alice], groups: [engineers]}
    targets:
      - integration: pg-local
        resources: ["*"]
        permissions: [read_only]
    approval: manual
    approvers: {users: [carol], groups: []}
    max_duration: 4h
    default_duration: 30m
    justification_required: false
bundles:
  - name: analytics-readers
    targets:
      - {integration: pg-local, resources: [analytics], permissions: [read_only, custom_perm]}
)";
  auto cfg = parse_config(yaml, "/etc/aponod/aponod.yaml");
  CHECK(cfg->path == "/etc/aponod/aponod.yaml");

  CHECK(cfg->server.listen == "0.0.0.0:9443");
  CHECK(cfg->server.data_dir == "/var/lib/aponod");
  CHECK(cfg->server.tls_cert == "/var/lib/aponod/server.pem");
  CHECK(cfg->server.tls_key == "/etc/aponod/server-key.pem");
  CHECK(cfg->server.log_level == "debug");
  CHECK(cfg->server.provision_workers == 8);

  REQUIRE(cfg->users.size() == 2);
  CHECK(cfg->users[0].name == "alice");
  CHECK(cfg->users[0].email == "alice@example.com");
  CHECK_FALSE(cfg->users[0].admin);
  CHECK(cfg->users[0].token_hashes == std::vector<std::string>{hash_a, hash_b});
  CHECK(cfg->users[1].admin);
  CHECK(cfg->users[1].token_hashes == std::vector<std::string>{std::string(64, 'c')});

  REQUIRE(cfg->groups.size() == 1);
  CHECK(cfg->groups[0].name == "engineers");
  CHECK(cfg->groups[0].members == std::vector<std::string>{"alice"});

  REQUIRE(cfg->integrations.size() == 1);
  const auto& in = cfg->integrations[0];
  CHECK(in.id == "pg-local");
  CHECK(in.name == "Local PostgreSQL");
  CHECK(in.type == "postgresql");
  CHECK(in.resource_type == "database");
  CHECK(in.admin_url == "postgresql://postgres:secret@127.0.0.1:5432/postgres");
  CHECK(in.host == "db.internal");
  CHECK(in.port == 15432);
  CHECK(in.sslmode == "require");
  REQUIRE(in.resources.size() == 2);
  CHECK(in.resources[0].name == "appdb");
  CHECK(in.resources[1].name == "analytics");
  REQUIRE(in.permissions.size() == 2);
  CHECK(in.permissions[0].name == "read_only");
  CHECK(in.permissions[0].grants == default_postgres_grants("read_only"));
  CHECK(in.permissions[1].name == "custom_perm");
  CHECK(in.permissions[1].grants ==
        std::vector<std::string>{"GRANT CONNECT ON DATABASE {database} TO {role}",
                                 "GRANT pg_read_all_data TO {role}"});

  REQUIRE(cfg->flows.size() == 1);
  const auto& f = cfg->flows[0];
  CHECK(f.name == "engineers-read");
  CHECK(f.requestors.users == std::vector<std::string>{"alice"});
  CHECK(f.requestors.groups == std::vector<std::string>{"engineers"});
  REQUIRE(f.targets.size() == 1);
  CHECK(f.targets[0].integration == "pg-local");
  CHECK(f.targets[0].resources == std::vector<std::string>{"*"});
  CHECK(f.targets[0].permissions == std::vector<std::string>{"read_only"});
  CHECK_FALSE(f.automatic);
  CHECK(f.approvers.users == std::vector<std::string>{"carol"});
  CHECK(f.approvers.groups.empty());
  CHECK(f.max_duration == 4h);
  CHECK(f.default_duration == 30min);
  CHECK_FALSE(f.justification_required);

  REQUIRE(cfg->bundles.size() == 1);
  CHECK(cfg->bundles[0].name == "analytics-readers");
  REQUIRE(cfg->bundles[0].targets.size() == 1);
  CHECK(cfg->bundles[0].targets[0].integration == "pg-local");
  CHECK(cfg->bundles[0].targets[0].resources == std::vector<std::string>{"analytics"});
  CHECK(cfg->bundles[0].targets[0].permissions ==
        std::vector<std::string>{"read_only", "custom_perm"});

  CHECK(cfg->find_integration("pg-local") == &in);
  CHECK(cfg->find_integration("nope") == nullptr);
  CHECK(cfg->find_user("carol") == &cfg->users[1]);
  CHECK(cfg->find_user("dave") == nullptr);
  CHECK(cfg->find_flow("engineers-read") == &f);
  CHECK(cfg->find_flow("x") == nullptr);
  CHECK(cfg->find_bundle("analytics-readers") == &cfg->bundles[0]);
  CHECK(cfg->find_bundle("x") == nullptr);
}

TEST_CASE("defaults fill what the file leaves out", "[config]") {
  SECTION("an empty file") {
    auto cfg = parse_config("", "conf/aponod.yaml");
    CHECK(cfg->server.listen == "127.0.0.1:8443");
    CHECK(cfg->server.data_dir == fs::current_path() / "conf");
    CHECK(cfg->server.tls_cert.empty());
    CHECK(cfg->server.tls_key.empty());
    CHECK(cfg->server.log_level == "info");
    CHECK(cfg->server.provision_workers == 4);
    CHECK(cfg->users.empty());
    CHECK(cfg->integrations.empty());
    CHECK(cfg->flows.empty());
  }
  SECTION("data_dir and the TLS files are absolute, whatever the working directory") {
    CHECK(parse_config("server: {}", "aponod.yaml")->server.data_dir == fs::current_path());
    auto cfg = parse_config("server: {tls_cert: c.pem, tls_key: /k.pem}", "conf/aponod.yaml");
    CHECK(cfg->server.tls_cert == fs::current_path() / "conf/c.pem");
    CHECK(cfg->server.tls_key == "/k.pem");
  }
  SECTION("a relative data_dir is under the config file's directory") {
    auto cfg = parse_config("server: {data_dir: data, tls_cert: c.pem, tls_key: k.pem}",
                            "/etc/aponod/aponod.yaml");
    CHECK(cfg->server.data_dir == "/etc/aponod/data");
    CHECK(cfg->server.tls_cert == "/etc/aponod/data/c.pem");
    CHECK(cfg->server.tls_key == "/etc/aponod/data/k.pem");
  }
  SECTION("integration, flow and user defaults") {
    auto cfg = parse_config(base + R"(access_flows:
  - name: f
    requestors: {groups: [engineers]}
    targets: [{integration: pg-local, resources: ["*"], permissions: ["*"]}]
  - name: short
    requestors: {users: [alice]}
    targets: [{integration: pg-local, resources: [app*], permissions: [read_write]}]
    max_duration: 20m
)",
                            "test.yaml");
    const auto& in = cfg->integrations[0];
    CHECK(in.name == "pg-local");
    CHECK(in.host == "db.example");
    CHECK(in.port == 6432);
    CHECK(in.sslmode == "prefer");
    REQUIRE(in.permissions.size() == 3);
    CHECK(in.permissions[0].name == "read_only");
    CHECK(in.permissions[1].name == "read_write");
    CHECK(in.permissions[2].name == "admin");
    CHECK(in.permissions[2].grants == default_postgres_grants("admin"));
    CHECK(cfg->users[0].email.empty());
    CHECK_FALSE(cfg->users[0].admin);
    CHECK(cfg->users[0].token_hashes.empty());
    const auto& f = cfg->flows[0];
    CHECK(f.automatic);
    CHECK(f.max_duration == 8h);
    CHECK(f.default_duration == 1h);
    CHECK(f.justification_required);
    // An unset default never exceeds a short maximum.
    CHECK(cfg->flows[1].max_duration == 20min);
    CHECK(cfg->flows[1].default_duration == 20min);
  }
  SECTION("client host and port come from admin_url, else 5432") {
    auto host_of = [](const std::string& url) {
      auto cfg = parse_config("integrations: [{id: x, type: postgresql, admin_url: '" + url + "'}]",
                              "t.yaml");
      const auto& in = cfg->integrations[0];
      return in.host + ":" + std::to_string(in.port);
    };
    CHECK(host_of("postgresql://u:p@db1/postgres") == "db1:5432");
    CHECK(host_of("postgres://db2:7000") == "db2:7000");
    CHECK(host_of("postgresql://u@[::1]:5433/db") == "::1:5433");
    CHECK(host_of("postgresql://u:p%40x@h1:1,h2:2/db?sslmode=require") == "h1:1");
    CHECK(host_of("postgresql:///db?host=10.0.0.5&port=5544") == "10.0.0.5:5544");
    CHECK(host_of("host=db3 port=7001 password=x dbname=postgres") == "db3:7001");
    CHECK(host_of("hostaddr=10.1.2.3 user=postgres") == "10.1.2.3:5432");
  }
  SECTION("permissions may be a list of built-in names") {
    auto cfg = parse_config(
        "integrations: [{id: x, type: postgresql, admin_url: 'postgresql://h/db', "
        "permissions: [read_only, admin]}]",
        "t.yaml");
    const auto& perms = cfg->integrations[0].permissions;
    REQUIRE(perms.size() == 2);
    CHECK(perms[1].name == "admin");
    CHECK(perms[1].grants == default_postgres_grants("admin"));
  }
}

TEST_CASE("store: SQLite in the data dir by default, or PostgreSQL by URL", "[config]") {
  SECTION("the default") {
    auto cfg = parse_config("server: {data_dir: /var/lib/aponod}", "conf/aponod.yaml");
    CHECK(cfg->store.type == "sqlite");
    CHECK(cfg->store.path == "/var/lib/aponod/apono.db");
  }
  SECTION("a SQLite path is relative to the data dir") {
    auto cfg = parse_config("server: {data_dir: /d}\nstore: {path: state/a.db}", "c.yaml");
    CHECK(cfg->store.path == "/d/state/a.db");
  }
  SECTION("PostgreSQL") {
    auto cfg = parse_config(
        "store: {type: postgresql, url: 'postgresql://aponod:pw@db:5432/apono', pool_size: 16}",
        "c.yaml");
    CHECK(cfg->store.type == "postgresql");
    CHECK(cfg->store.url == "postgresql://aponod:pw@db:5432/apono");
    CHECK(cfg->store.pool_size == 16);
    CHECK(cfg->store.path.empty());
  }
  SECTION("mistakes are named, and a URL's password is never repeated") {
    CHECK(error_of("store: {type: mysql}") ==
          "test.yaml:1: store: type: 'mysql' is not one of sqlite, postgresql");
    CHECK(error_of("store: {type: postgresql}") ==
          "test.yaml:1: store: url: required for type postgresql, e.g. "
          "postgresql://aponod@db:5432/apono");
    CHECK(error_of("store: {url: 'postgresql://x'}") ==
          "test.yaml:1: store: url: only for type postgresql (sqlite takes a path)");
    CHECK(error_of("store: {type: postgresql, url: 'postgresql://x', path: a.db}") ==
          "test.yaml:1: store: path: only for type sqlite (postgresql takes a url)");
    CHECK(error_of("store: {type: postgresql, url: 'postgresql://x', pool_size: 0}")
              .find("pool_size") != std::string::npos);
    auto bad = error_of("store: {type: postgresql, url: 'host=db password=hunter2 bogus'}");
    CHECK(bad == "test.yaml:1: store: url: not a valid libpq connection string");
    CHECK(bad.find("hunter2") == std::string::npos);
  }
}

TEST_CASE("portal: browser sessions' idle timeout and lifetime", "[config]") {
  SECTION("the defaults: 30 minutes idle, 12 hours in all") {
    auto cfg = parse_config("", "c.yaml");
    CHECK(cfg->portal.idle_timeout == std::chrono::minutes{30});
    CHECK(cfg->portal.session_lifetime == std::chrono::hours{12});
  }
  SECTION("set, down to seconds for tests") {
    auto cfg = parse_config("portal: {idle_timeout: 3s, session_lifetime: 8s}", "c.yaml");
    CHECK(cfg->portal.idle_timeout == std::chrono::seconds{3});
    CHECK(cfg->portal.session_lifetime == std::chrono::seconds{8});
    CHECK(parse_config("portal: {idle_timeout: 1h}", "c.yaml")->portal.session_lifetime ==
          std::chrono::hours{12});
  }
  SECTION("mistakes are named") {
    CHECK(error_of("portal: {idle: 3s}") ==
          "test.yaml:1: portal: unknown key 'idle' (expected idle_timeout, session_lifetime)");
    CHECK(error_of("portal:\n  idle_timeout: soon\n")
              .find("test.yaml:2: portal: idle_timeout: cannot read 'soon' as a duration") == 0);
    CHECK(error_of("portal:\n  session_lifetime: 1h\n  idle_timeout: 2h\n") ==
          "test.yaml:3: portal: idle_timeout: 2h is longer than session_lifetime 1h");
    CHECK(error_of("portal: []") == "test.yaml:1: portal: expected a mapping");
  }
}

TEST_CASE("matches() takes users directly or through groups", "[config]") {
  auto cfg = parse_config(base, "test.yaml");
  apono::broker::principals p{{"carol"}, {"engineers"}};
  CHECK(cfg->matches(p, "carol"));
  CHECK(cfg->matches(p, "alice"));
  CHECK(cfg->matches(p, "bob"));
  CHECK_FALSE(cfg->matches(p, "dave"));
  CHECK_FALSE(cfg->matches({{}, {"engineers"}}, "carol"));
  CHECK_FALSE(cfg->matches({{}, {"no-such-group"}}, "alice"));
  CHECK_FALSE(cfg->matches({}, "alice"));
}

TEST_CASE("errors name the file, the line and the thing", "[config]") {
  SECTION("YAML syntax") {
    CHECK(error_of("users:\n  - name: [alice\n") ==
          "test.yaml:3: invalid YAML: end of sequence flow not found");
  }
  SECTION("unknown top-level key") {
    CHECK(error_of("server: {}\nintegration: []\n") ==
          "test.yaml:2: unknown key 'integration' (expected server, store, portal, users, "
          "groups, integrations, access_flows, bundles, notifications)");
  }
  SECTION("duplicate top-level key") {
    CHECK(error_of("users: []\nusers: []\n") == "test.yaml:2: duplicate key 'users'");
  }
  SECTION("the top level must be a mapping") {
    CHECK(error_of("- a\n") == "test.yaml:1: expected a mapping at the top level");
  }
  SECTION("unknown key in an object, named by the object") {
    CHECK(error_of("users:\n  - name: alice\n    emial: a@x\n") ==
          "test.yaml:3: user 'alice': unknown key 'emial' (expected name, email, admin, "
          "token_sha256, password_hash)");
    CHECK(error_of("server:\n  listen: 127.0.0.1:1\n  workers: 2\n") ==
          "test.yaml:3: server: unknown key 'workers' (expected listen, data_dir, tls_cert, "
          "tls_key, log_level, provision_workers, token_ttl)");
  }
  SECTION("wrong types") {
    CHECK(error_of("groups:\n  - name: g\n    members: alice\n") ==
          "test.yaml:3: group 'g': members: expected a list of strings");
    CHECK(error_of("groups:\n  - name: g\n    members: [[alice]]\n") ==
          "test.yaml:3: group 'g': members: expected a list of strings");
    CHECK(error_of("users:\n  - name: [a]\n") == "test.yaml:2: user #1: name: expected a string");
    CHECK(error_of("users:\n  - name: a\n    admin: maybe\n") ==
          "test.yaml:3: user 'a': admin: expected true or false");
    CHECK(error_of("users: {alice: {}}\n") == "test.yaml:1: users: expected a list");
    CHECK(error_of("users:\n  - alice\n") == "test.yaml:2: user #1: expected a mapping");
    CHECK(error_of("server:\n  provision_workers: four\n") ==
          "test.yaml:2: server: provision_workers: expected an integer");
  }
  SECTION("missing required fields") {
    CHECK(error_of("users:\n  - name: a\n  - email: b@x\n") ==
          "test.yaml:3: user #2: 'name' is required");
    CHECK(error_of("groups:\n  - members: []\n") == "test.yaml:2: group #1: 'name' is required");
    CHECK(error_of("integrations:\n  - type: postgresql\n") ==
          "test.yaml:2: integration #1: 'id' is required");
    CHECK(error_of("integrations:\n  - id: x\n") ==
          "test.yaml:2: integration 'x': 'type' is required");
    CHECK(error_of("integrations:\n  - id: x\n    type: postgresql\n") ==
          "test.yaml:2: integration 'x': 'admin_url' is required");
    CHECK(error_of("users:\n  - name: ''\n") == "test.yaml:2: user #1: 'name' must not be empty");
    CHECK(error_of(base + "access_flows:\n  - name: f\n    targets: []\n") ==
          "test.yaml:14: access flow 'f': 'requestors' is required");
    CHECK(error_of(base + "access_flows:\n  - name: f\n    requestors: {users: [alice]}\n") ==
          "test.yaml:14: access flow 'f': 'targets' is required");
    CHECK(
        error_of(base + "bundles:\n  - name: b\n    targets:\n      - {integration: pg-local}\n") ==
        "test.yaml:16: bundle 'b': 'resources' is required");
  }
  SECTION("duplicates") {
    CHECK(error_of("users:\n  - name: a\n  - name: b\n  - name: a\n") ==
          "test.yaml:4: duplicate user 'a' (first on line 2)");
    CHECK(error_of(base + "  - id: pg-local\n    type: postgresql\n") ==
          "test.yaml:13: duplicate integration 'pg-local' (first on line 9)");
    CHECK(error_of("groups: [{name: g}, {name: g}]\n") ==
          "test.yaml:1: duplicate group 'g' (first on line 1)");
    CHECK(error_of("integrations:\n  - id: x\n    type: postgresql\n    admin_url: postgresql://h\n"
                   "    resources: [a, {name: a}]\n") ==
          "test.yaml:5: integration 'x': duplicate resource 'a' (first on line 5)");
    CHECK(error_of("users:\n  - name: a\n    token_sha256: " + hash_a + "\n  - name: b\n" +
                   "    token_sha256: [" + hash_b + ", " + hash_a + "]\n") ==
          "test.yaml:5: user 'b': token_sha256: the same token is already listed for user 'a'");
  }
  SECTION("token hashes must be 64 lowercase hex, and are not echoed") {
    const std::string upper =
        "users:\n  - name: a\n    token_sha256: " + std::string(64, 'A') + "\n";
    CHECK(error_of(upper) ==
          "test.yaml:3: user 'a': token_sha256: expected 64 lowercase hex characters");
    CHECK(error_of("users:\n  - name: a\n    token_sha256:\n      - " + hash_a +
                   "\n      - raw-token-pasted-here\n") ==
          "test.yaml:5: user 'a': token_sha256: expected 64 lowercase hex characters");
  }
  SECTION("password hashes must be well-formed, and are not echoed") {
    const std::string good =
        "pbkdf2-sha256$100000$c2FsdHNhbHRzYWx0c2FsdA==$T78tEi/mr8Yageny/"
        "jk6s5+Qanjd3ceXdjwOeEhX6bQ=";
    auto cfg = parse_config("users:\n  - name: a\n    password_hash: " + good + "\n", "test.yaml");
    CHECK(cfg->users.at(0).password_hash == good);
    CHECK(parse_config("users: [{name: a}]\n", "test.yaml")->users.at(0).password_hash.empty());
    for (const std::string& bad : {std::string("hunter2-cleartext"),
                                   std::string("pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA==$"
                                               "T78tEi/mr8Yageny/jk6s5+Qanjd3ceXdjwOeEhX6bQ="),
                                   std::string("\"\"")}) {
      auto e = error_of("users:\n  - name: a\n    password_hash: " + bad + "\n");
      INFO(e);
      CHECK(e.rfind("test.yaml:3: user 'a': password_hash: expected pbkdf2-sha256$ITERATIONS$",
                    0) == 0);
      CHECK(e.find("hunter2") == std::string::npos);
      CHECK(e.find("c2FsdHNhbHRz") == std::string::npos);
    }
    CHECK(error_of("users:\n  - name: a\n    password_hash: [x]\n") ==
          "test.yaml:3: user 'a': password_hash: expected a string");
  }
  SECTION("group members must be known users") {
    CHECK(error_of("users: [{name: alice}]\ngroups:\n  - name: g\n    members:\n      - alice\n"
                   "      - bobb\n") == "test.yaml:6: group 'g': unknown user 'bobb'");
  }
  SECTION("integration type, url, host, port, sslmode") {
    const std::string head = "integrations:\n  - id: x\n";
    CHECK(error_of(head + "    type: mysql\n") ==
          "test.yaml:3: integration 'x': unknown type 'mysql' (supported: postgresql, ssh, aws, "
          "kubernetes)");
    CHECK(error_of(head + "    type: postgresql\n    admin_url: mysql://root:hunter2@db/x\n") ==
          "test.yaml:4: integration 'x': admin_url: libpq cannot parse it as a connection URI or "
          "key=value string (the value is not shown: it holds a password)");
    CHECK(error_of(head +
                   "    type: postgresql\n    admin_url: postgresql://u:hunter2@h:99999/d\n") ==
          "test.yaml:4: integration 'x': admin_url: port must be between 1 and 65535");
    CHECK(error_of(head + "    type: postgresql\n    admin_url: postgresql:///db\n") ==
          "test.yaml:2: integration 'x': give 'host': admin_url names no TCP host for clients "
          "to connect to");
    CHECK(error_of(head + "    type: postgresql\n    admin_url: postgresql://h/d\n    port: 0\n") ==
          "test.yaml:5: integration 'x': port: must be between 1 and 65535");
    CHECK(error_of(head +
                   "    type: postgresql\n    admin_url: postgresql://h/d\n    port: 65536\n") ==
          "test.yaml:5: integration 'x': port: must be between 1 and 65535");
    CHECK(error_of(head +
                   "    type: postgresql\n    admin_url: postgresql://h/d\n    sslmode: on\n") ==
          "test.yaml:5: integration 'x': sslmode: 'on' is not one of disable, allow, prefer, "
          "require, verify-ca, verify-full");
  }
  SECTION("the admin_url password never appears in a message") {
    for (const std::string url : {"postgresql://u:hunter2@h:0/d", "mysql://u:hunter2@h/d",
                                  "host=h password=hunter2 port=x", "password=hunter2 oops"}) {
      auto what =
          error_of("integrations:\n  - id: x\n    type: postgresql\n    admin_url: " + url + "\n");
      CHECK_FALSE(what.empty());
      CHECK(what.find("hunter2") == std::string::npos);
    }
  }
  SECTION("permissions") {
    const std::string head =
        "integrations:\n  - id: x\n    type: postgresql\n    admin_url: postgresql://h/d\n"
        "    permissions:\n";
    CHECK(error_of(head + "      read_only: default\n      x: default\n") ==
          "test.yaml:7: integration 'x': permission 'x' has no SQL: give a list of statements "
          "or use read_only, read_write or admin");
    CHECK(error_of(head + "      p: select 1\n") ==
          "test.yaml:6: integration 'x': permission 'p': expected 'default' or a list of SQL "
          "statements");
    CHECK(error_of(head + "      p: []\n") ==
          "test.yaml:6: integration 'x': permission 'p': give at least one statement");
    CHECK(error_of(head + "      p: ['GRANT CONNECT ON DATABASE \"{database}\" TO {role}']\n") ==
          "test.yaml:6: integration 'x': permission 'p': write {database} without quotes: it is "
          "replaced by a quoted identifier");
    CHECK(error_of(head + "      p: ['GRANT r TO {user}']\n") ==
          "test.yaml:6: integration 'x': permission 'p': unknown placeholder {user} (use {role} "
          "and {database})");
  }
  SECTION("access flow references") {
    CHECK(error_of(base + R"(access_flows:
  - name: engineers-read
    requestors: {users: [alice]}
    targets:
      - integration: pg-lcal
        resources: ["*"]
        permissions: [read_only]
)") == "test.yaml:17: access flow 'engineers-read': unknown integration 'pg-lcal'");
    CHECK(error_of(base + "access_flows:\n  - name: f\n    requestors: {users: [alice, dave]}\n") ==
          "test.yaml:15: access flow 'f': unknown user 'dave'");
    CHECK(error_of(base + "access_flows:\n  - name: f\n    requestors: {groups: [engineer]}\n") ==
          "test.yaml:15: access flow 'f': unknown group 'engineer'");
    CHECK(error_of(base + "access_flows:\n  - name: f\n    requestors: {user: [alice]}\n") ==
          "test.yaml:15: access flow 'f': requestors: unknown key 'user' (expected users, "
          "groups)");
    CHECK(error_of(base + R"(access_flows:
  - name: f
    requestors: {users: [alice]}
    targets:
      - integration: pg-local
        resources: ["*"]
        permissions: [read_only, write]
)") == "test.yaml:19: access flow 'f': integration 'pg-local' has no permission 'write'");
  }
  SECTION("resource patterns matching nothing are fine") {
    CHECK(error_of(base + R"(access_flows:
  - name: f
    requestors: {users: [alice]}
    targets: [{integration: pg-local, resources: [nothing-*], permissions: [admin]}]
)") == "");
  }
  const std::string flow = base + R"(access_flows:
  - name: f
    requestors: {users: [alice]}
    targets: [{integration: pg-local, resources: ["*"], permissions: ["*"]}]
)";  // the next line is 17
  SECTION("approval") {
    CHECK(error_of(flow + "    approval: auto\n") ==
          "test.yaml:17: access flow 'f': approval must be automatic or manual, not 'auto'");
    CHECK(error_of(flow + "    approval: manual\n") ==
          "test.yaml:17: access flow 'f': manual approval needs approvers (users or groups)");
    CHECK(error_of(flow + "    approval: manual\n    approvers: {users: [], groups: []}\n") ==
          "test.yaml:17: access flow 'f': manual approval needs approvers (users or groups)");
    CHECK(error_of(flow + "    approval: manual\n    approvers: {groups: [engineers]}\n") == "");
    CHECK(error_of(flow + "    approvers: {users: [carl]}\n") ==
          "test.yaml:17: access flow 'f': unknown user 'carl'");
  }
  SECTION("durations") {
    CHECK(error_of(flow + "    max_duration: 8x\n") ==
          "test.yaml:17: access flow 'f': max_duration: cannot read '8x' as a duration (e.g. "
          "8h, 45m, 1h30m, 90s, or 0.75 for hours; at most 366d)");
    CHECK(error_of(flow + "    default_duration: 0\n")
              .starts_with("test.yaml:17: access flow 'f': default_duration: cannot read '0'"));
    CHECK(error_of(flow + "    max_duration: 2h\n    default_duration: 3h\n") ==
          "test.yaml:18: access flow 'f': default_duration 3h is longer than max_duration 2h");
  }
  SECTION("bundles") {
    const std::string head = base + "bundles:\n  - name: b\n    targets:\n";  // next: 16
    CHECK(
        error_of(head + "      - {integration: pg, resources: [appdb], permissions: [admin]}\n") ==
        "test.yaml:16: bundle 'b': unknown integration 'pg'");
    CHECK(error_of(head +
                   "      - {integration: pg-local, resources: [app*], permissions: [admin]}\n") ==
          "test.yaml:16: bundle 'b': integration 'pg-local' has no resource 'app*'");
    CHECK(error_of(head +
                   "      - {integration: pg-local, resources: [appdb], permissions: ['*']}\n") ==
          "test.yaml:16: bundle 'b': integration 'pg-local' has no permission '*'");
    CHECK(
        error_of(head + "      - {integration: pg-local, resources: [appdb], permissions: []}\n") ==
        "test.yaml:16: bundle 'b': permissions: give at least one");
    CHECK(
        error_of(head + "      - {integration: pg-local, resources: [appdb], permission: [x]}\n") ==
        "test.yaml:16: bundle 'b': unknown key 'permission' (expected integration, resources, "
        "permissions)");
  }
  SECTION("server settings") {
    CHECK(error_of("server:\n  listen: 8443\n") ==
          "test.yaml:2: server: listen: expected HOST:PORT (e.g. 127.0.0.1:8443 or [::1]:8443), "
          "got '8443'");
    CHECK(error_of("server:\n  listen: ::1:8443\n")
              .starts_with("test.yaml:2: server: listen: expected HOST:PORT"));
    CHECK(error_of("server:\n  listen: localhost:65536\n") ==
          "test.yaml:2: server: listen: port must be between 0 (any free port) and 65535");
    CHECK(error_of("server:\n  listen: localhost:0\n") == "");
    CHECK(error_of("server:\n  listen: '[::1]:8443'\n") == "");
    CHECK(error_of("server:\n  provision_workers: 0\n") ==
          "test.yaml:2: server: provision_workers: must be between 1 and 64");
    CHECK(error_of("server:\n  provision_workers: 65\n") ==
          "test.yaml:2: server: provision_workers: must be between 1 and 64");
    CHECK(error_of("server:\n  log_level: verbose\n") ==
          "test.yaml:2: server: log_level: 'verbose' is not one of trace, debug, info, warn, "
          "error");
    CHECK(error_of("server:\n  tls_cert: c.pem\n") ==
          "test.yaml:2: server: give both tls_cert and tls_key, or neither to let the broker "
          "make its own");
  }
}

TEST_CASE("load_config reads a file and reports one it cannot read", "[config]") {
  auto dir = fs::temp_directory_path() / ("apono-config-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto path = dir / "aponod.yaml";
  {
    std::ofstream out(path);
    out << base;
  }
  auto cfg = apono::broker::load_config(path);
  CHECK(cfg->path == path);
  CHECK(cfg->server.data_dir == dir);
  CHECK(cfg->find_integration("pg-local") != nullptr);

  auto missing = dir / "missing.yaml";
  try {
    (void)apono::broker::load_config(missing);
    FAIL("no error for a missing file");
  } catch (const config_error& e) {
    CHECK(std::string(e.what()) == missing.string() + ": cannot read: No such file or directory");
  }
  {
    std::ofstream out(path);
    out << "users:\n  - name: a\n  - nme: b\n";
  }
  try {
    (void)apono::broker::load_config(path);
    FAIL("no error for a bad file");
  } catch (const config_error& e) {
    CHECK(std::string(e.what()) ==
          path.string() +
              ":3: user #2: unknown key 'nme' (expected name, email, admin, "
              "token_sha256, password_hash)");
  }
  fs::remove_all(dir);
}

TEST_CASE("default PostgreSQL grants", "[config]") {
  for (const char* name : {"read_only", "read_write", "admin"}) {
    auto grants = default_postgres_grants(name);
    CAPTURE(name);
    REQUIRE_FALSE(grants.empty());
    for (const auto& sql : grants) {
      CHECK(sql.find("{role}") != std::string::npos);
      CHECK(sql.find('"') == std::string::npos);
      CHECK(sql.find('\'') == std::string::npos);
    }
  }
  auto ro = default_postgres_grants("read_only");
  CHECK(ro[0] == "GRANT CONNECT ON DATABASE {database} TO {role}");
  auto rw = default_postgres_grants("read_write");
  CHECK(rw.size() > ro.size());
  CHECK(std::equal(ro.begin(), ro.end(), rw.begin()));
  CHECK(default_postgres_grants("admin")[0] ==
        "GRANT ALL PRIVILEGES ON DATABASE {database} TO {role}");
  CHECK(default_postgres_grants("superuser").empty());
}

TEST_CASE("ssh integrations: hosts with their keys, logins with principals", "[config]") {
  const std::string key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOdFqT3yGY5mXq6o7c1k5mA7b3F1u2pA";
  const std::string yaml =
      "integrations:\n  - id: hosts\n    type: ssh\n    resources:\n"
      "      - {name: web-1, address: 10.0.0.7, host_key: " +
      key +
      " root@web-1}\n      - name: db-1\n        port: 2222\n"
      "        host_key: [" +
      key +
      "]\n    permissions:\n      - deploy\n"
      "      - {name: admin, login: root, principal: apono-admin, "
      "extensions: [permit-pty]}\n";
  auto cfg = parse_config(yaml, "test.yaml");
  const auto& in = cfg->integrations.at(0);
  CHECK(in.type == "ssh");
  CHECK(in.resource_type == "host");
  REQUIRE(in.resources.size() == 2);
  CHECK(in.resources[0].address == "10.0.0.7");
  CHECK(in.resources[0].port == 22);
  CHECK(in.resources[0].host_keys == std::vector<std::string>{key});  // comment dropped
  CHECK(in.resources[1].address == "db-1");
  CHECK(in.resources[1].port == 2222);
  const auto* deploy = in.find_permission("deploy");
  REQUIRE(deploy);
  CHECK(deploy->login == "deploy");
  CHECK(deploy->principal == "deploy");
  CHECK(deploy->extensions == default_ssh_extensions());
  const auto* admin = in.find_permission("admin");
  REQUIRE(admin);
  CHECK(admin->login == "root");
  CHECK(admin->principal == "apono-admin");
  CHECK(admin->extensions == std::vector<std::string>{"permit-pty"});

  const std::string head = "integrations:\n  - id: x\n    type: ssh\n";
  const std::string host = "    resources: [{name: h, host_key: " + key + "}]\n";
  CHECK(error_of(head + "    permissions: [a]\n") ==
        "test.yaml:2: integration 'x': 'resources' is required: the hosts");
  CHECK(error_of(head + "    resources: [{name: h}]\n    permissions: [a]\n") ==
        "test.yaml:4: integration 'x': host 'h': 'host_key' is required: the public key the host "
        "presents");
  CHECK(error_of(head + "    resources: [{name: h, host_key: ssh-dss AAAA}]\n") ==
        "test.yaml:4: integration 'x': host 'h': host_key: expected a public key such as "
        "'ssh-ed25519 AAAA...' (as in the host's /etc/ssh/ssh_host_ed25519_key.pub)");
  CHECK(error_of(head + "    resources: [{name: h, host_key: ssh-ed25519 A*B}]\n") ==
        "test.yaml:4: integration 'x': host 'h': host_key: the key is not valid base64");
  CHECK(error_of(head + host) ==
        "test.yaml:2: integration 'x': 'permissions' is required: the logins it grants");
  CHECK(error_of(head + host + "    permissions: [\"-oProxyCommand=x\"]\n") ==
        "test.yaml:5: integration 'x': permission '-oProxyCommand=x': names, logins and "
        "principals use letters, digits, _ - . @ only");
  CHECK(error_of(head + host + "    permissions: [{name: a, extensions: [permit-everything]}]\n")
            .find("unknown extension 'permit-everything'") != std::string::npos);
  CHECK(error_of(head + host + "    permissions: [a, a]\n") ==
        "test.yaml:5: integration 'x': duplicate permission 'a'");
  CHECK(error_of(head + host + "    permissions: [a]\n    admin_url: postgresql://h/d\n")
            .find("unknown key 'admin_url'") != std::string::npos);
}

TEST_CASE("aws integrations: accounts, roles, endpoints and the broker's credentials", "[config]") {
  const std::string yaml =
      "integrations:\n  - id: aws-prod\n    type: aws\n"
      "    access_key_id: AKIDEXAMPLE\n    secret_access_key: wJalrXUtnFEMI\n"
      "    resources: [\"123456789012\"]\n"
      "    permissions:\n"
      "      - {name: read-only, role_arn: \"arn:aws:iam::{account}:role/ReadOnly\"}\n"
      "      - {name: admin, role_arn: \"arn:aws:iam::123456789012:role/path/Admin\", "
      "max_session: 12h}\n";
  auto cfg = parse_config(yaml, "test.yaml");
  const auto& in = cfg->integrations.at(0);
  CHECK(in.resource_type == "account");
  CHECK(in.region == "us-east-1");
  CHECK(in.endpoint == "https://sts.amazonaws.com");
  CHECK(in.iam_endpoint == "https://iam.amazonaws.com");
  CHECK(in.access_key_id == "AKIDEXAMPLE");
  REQUIRE(in.find_permission("read-only"));
  CHECK(in.find_permission("read-only")->role_arn == "arn:aws:iam::{account}:role/ReadOnly");
  CHECK(in.find_permission("read-only")->max_session == std::chrono::hours{1});
  CHECK(in.find_permission("admin")->max_session == std::chrono::hours{12});

  const std::string head =
      "integrations:\n  - id: x\n    type: aws\n"
      "    access_key_id: AKID\n    secret_access_key: SECRETVALUE\n";
  const std::string perm =
      "    permissions: [{name: r, role_arn: \"arn:aws:iam::{account}:role/R\"}]\n";
  CHECK(error_of(head + "    resources: [\"12345\"]\n" + perm) ==
        "test.yaml:6: integration 'x': resources: '12345' is not a 12-digit AWS account id "
        "(quote it in YAML)");
  CHECK(error_of(head + "    resources: [\"123456789012\"]\n" +
                 "    permissions: [{name: r, role_arn: \"arn:aws:iam::1:user/R\"}]\n")
            .find("role_arn: expected arn:aws:iam::ACCOUNT:role/NAME") != std::string::npos);
  CHECK(error_of(head + "    resources: [\"123456789012\"]\n" +
                 "    permissions: [{name: r, role_arn: \"arn:aws:iam::{account}:role/R\", "
                 "max_session: 5m}]\n")
            .find("max_session: must be between 15m and 12h") != std::string::npos);
  CHECK(error_of(head +
                 "    sts_endpoint: http://127.0.0.1:1\n    resources: [\"123456789012\"]\n" + perm)
            .find("sts_endpoint: expected an https URL without a path") != std::string::npos);
  CHECK(error_of(head + "    resources: [\"123456789012\"]\n" + perm + "    token: x\n")
            .find("unknown key 'token'") != std::string::npos);
  // Without credentials in the file the environment is asked; the message never shows a value.
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  auto missing = error_of(
      "integrations:\n  - id: x\n    type: aws\n    resources: [\"123456789012\"]\n" + perm);
  CHECK(missing.find("the broker's AWS credentials are missing") != std::string::npos);
  ::setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "SECRETFROMENV", 1);
  auto from_env = parse_config(
      "integrations:\n  - id: x\n    type: aws\n    resources: [\"123456789012\"]\n" + perm,
      "test.yaml");
  CHECK(from_env->integrations.at(0).access_key_id == "AKIDFROMENV");
  CHECK(from_env->integrations.at(0).secret_access_key == "SECRETFROMENV");
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  CHECK(error_of(head + "    resources: [\"12345\"]\n" + perm).find("SECRETVALUE") ==
        std::string::npos);
}

TEST_CASE("kubernetes integrations: namespaces, ClusterRoles, the API server and its CA",
          "[config]") {
  const auto dir =
      std::filesystem::temp_directory_path() / ("apono-config-k8s-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "ca.pem") << "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  std::ofstream(dir / "token") << "broker-token-value\n";
  const std::string yaml =
      "integrations:\n  - id: k8s\n    type: kubernetes\n"
      "    server: https://127.0.0.1:6443/\n    ca_file: " +
      (dir / "ca.pem").string() + "\n    token_file: " + (dir / "token").string() +
      "\n    resources: [team-a, {name: team-b}]\n"
      "    permissions: [view, {name: editor, cluster_role: edit}]\n";
  auto cfg = parse_config(yaml, "test.yaml");
  const auto& in = cfg->integrations.at(0);
  CHECK(in.resource_type == "namespace");
  CHECK(in.endpoint == "https://127.0.0.1:6443");
  CHECK(in.token == "broker-token-value");
  CHECK(in.ssl_root_cert.find("BEGIN CERTIFICATE") != std::string::npos);
  CHECK(in.find_permission("view")->cluster_role == "view");
  CHECK(in.find_permission("editor")->cluster_role == "edit");

  const std::string head = "integrations:\n  - id: x\n    type: kubernetes\n";
  const std::string rest = "    resources: [team-a]\n    permissions: [view]\n";
  CHECK(error_of(head + "    token: t\n" + rest) ==
        "test.yaml:2: integration 'x': 'server' is required");
  CHECK(error_of(head + "    server: https://h:6443\n" + rest)
            .find("the broker's Kubernetes credentials are missing") != std::string::npos);
  CHECK(error_of(head + "    server: https://h:6443\n    token: t\n    resources: [Team_A]\n" +
                 "    permissions: [view]\n")
            .find("'Team_A' is not a valid namespace name") != std::string::npos);
  CHECK(error_of(head + "    server: https://h:6443\n    token: t\n    ca_file: /nonexistent\n" +
                 rest)
            .find("ca_file: cannot read /nonexistent") != std::string::npos);
  CHECK(error_of(head + "    server: https://h:6443\n    token: \"a b\"\n" + rest)
            .find("the value is not shown") != std::string::npos);
  std::filesystem::remove_all(dir);
}
