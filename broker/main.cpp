// aponod: the access broker. `aponod --config FILE` or `aponod --dev --data-dir DIR`.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <iostream>

#include "broker/app.hpp"
#include "broker/config.hpp"
#include "broker/dev.hpp"
#include "broker/store/store_commands.hpp"
#include "common/log.hpp"

int main(int argc, char** argv) {
  CLI::App cli{"aponod: the apono access broker"};
  std::string config_file, data_dir, listen = "127.0.0.1:8443", log_level = "info";
  std::string pg_target = "postgresql://postgres@127.0.0.1:5432/postgres";
  bool dev = false;
  cli.add_option("--config", config_file, "YAML configuration file")->check(CLI::ExistingFile);
  cli.add_flag("--dev", dev, "all-in-one dev broker with a sample catalog in --data-dir");
  cli.add_option("--data-dir", data_dir, "dev mode: where the store, TLS files and config live");
  cli.add_option("--listen", listen, "dev mode: HOST:PORT for the API (port 0 picks one)")
      ->capture_default_str();
  cli.add_option("--pg-target", pg_target, "dev mode: PostgreSQL URL the broker administers")
      ->capture_default_str();
  std::string ssh_target, ssh_host_key, ssh_login;
  cli.add_option("--ssh-target", ssh_target, "dev mode: HOST:PORT of an sshd that trusts the CA");
  cli.add_option("--ssh-host-key", ssh_host_key,
                 "dev mode: that sshd's host key (ssh-ed25519 ...)");
  cli.add_option("--ssh-login", ssh_login, "dev mode: the account granted there (default root)");
  std::string token_ttl;
  cli.add_option("--token-ttl", token_ttl,
                 "dev mode: life of login tokens, e.g. 12h (default 30 days)");
  std::string portal_idle, portal_lifetime;
  cli.add_option("--portal-idle-timeout", portal_idle,
                 "dev mode: web portal sessions end after this long unused, e.g. 5s (default 30m)");
  cli.add_option("--portal-session-lifetime", portal_lifetime,
                 "dev mode: and this long after sign-in, e.g. 20s (default 12h)");
  std::string store_location;
  cli.add_option("--store", store_location,
                 "dev mode: postgresql://... (or sqlite:PATH) to keep the broker's state in");
  std::filesystem::path dev_extra;
  cli.add_option("--dev-extra", dev_extra,
                 "dev mode: YAML whose integrations and access_flows are added to the sample, "
                 "and whose notifications section is used")
      ->check(CLI::ExistingFile);
  cli.add_option("--log-level", log_level, "trace, debug, info, warn or error")
      ->capture_default_str();
  // aponod store ...: the store's keys and moving it, run by an operator beside the broker.
  auto* store_cmd = cli.add_subcommand("store", "manage the broker's store");
  store_cmd->require_subcommand(1);
  std::string key_id, key_out;
  auto* keygen = store_cmd->add_subcommand(
      "keygen", "make a key for secrets at rest: print it, or add it to a key file as the newest");
  keygen->add_option("--id", key_id, "the key's id (default: k and the date and time)");
  keygen->add_option("--out", key_out, "key file to add it to (made 0600 if missing)");
  std::string rekey_config;
  auto* rekey = store_cmd->add_subcommand(
      "rekey", "seal every stored secret with the newest key (run after keygen --out)");
  rekey->add_option("--config", rekey_config, "the broker's YAML configuration")
      ->required()
      ->check(CLI::ExistingFile);
  std::string from, to, key_file;
  auto* migrate = store_cmd->add_subcommand(
      "migrate", "copy a stopped broker's SQLite store into a new PostgreSQL database");
  migrate->add_option("--from", from, "sqlite:PATH of the store to copy")->required();
  migrate->add_option("--to", to, "postgresql://... of an empty database")->required();
  migrate->add_option("--key-file", key_file,
                      "keys of the SQLite store's secrets (default: store.key beside it; "
                      "APONO_STORE_KEYS overrides)");
  CLI11_PARSE(cli, argc, argv);

  if (store_cmd->parsed()) {
    apono::common::setup_logging("aponod", log_level);
    try {
      if (keygen->parsed()) return apono::broker::store_keygen(key_id, key_out);
      if (rekey->parsed()) return apono::broker::store_rekey(rekey_config);
      return apono::broker::store_migrate(from, to, key_file);
    } catch (const apono::broker::config_error& e) {
      std::cerr << "aponod: invalid configuration: " << e.what() << "\n";
      return 2;
    } catch (const std::exception& e) {
      std::cerr << "aponod store: " << e.what() << "\n";
      return 1;
    }
  }

  apono::common::setup_logging("aponod", log_level);
  if (dev == !config_file.empty()) {
    std::cerr << "aponod: give either --config FILE or --dev --data-dir DIR\n";
    return 2;
  }
  if (dev && data_dir.empty()) {
    std::cerr << "aponod: --dev needs --data-dir DIR\n";
    return 2;
  }
  try {
    std::filesystem::path path = config_file;
    if (dev) {
      (void)apono::broker::split_listen(listen);  // fail before writing anything
      path = apono::broker::prepare_dev(
          {std::filesystem::absolute(data_dir), listen, pg_target, ssh_target, ssh_host_key,
           ssh_login, dev_extra.empty() ? dev_extra : std::filesystem::absolute(dev_extra),
           store_location, token_ttl, portal_idle, portal_lifetime});
    }
    auto cfg = apono::broker::load_config(path);
    apono::broker::app a(cfg);
    a.set_portal_assets(apono::broker::portal::embedded_assets());
    if (dev)
      a.on_listening(
          [dir = cfg->server.data_dir](const std::string& url, const std::filesystem::path& ca) {
            apono::broker::write_dev_credentials(dir, url, ca);
          });
    return a.run();
  } catch (const apono::broker::config_error& e) {
    std::cerr << "aponod: invalid configuration: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "aponod: " << e.what() << "\n";
    return 1;
  }
}
