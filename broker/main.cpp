// aponod: the access broker. `aponod --config FILE` or `aponod --dev --data-dir DIR`.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <iostream>

#include "broker/app.hpp"
#include "broker/config.hpp"
#include "broker/dev.hpp"
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
  std::string store_location;
  cli.add_option("--store", store_location,
                 "dev mode: postgresql://... (or sqlite:PATH) to keep the broker's state in");
  std::filesystem::path dev_extra;
  cli.add_option("--dev-extra", dev_extra,
                 "dev mode: YAML whose integrations and access_flows are added to the sample")
      ->check(CLI::ExistingFile);
  cli.add_option("--log-level", log_level, "trace, debug, info, warn or error")
      ->capture_default_str();
  CLI11_PARSE(cli, argc, argv);

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
           store_location});
    }
    auto cfg = apono::broker::load_config(path);
    apono::broker::app a(cfg);
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
