// The store commands.
#include "broker/store/store_commands.hpp"

#include <sys/stat.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <stdexcept>

#include "broker/config.hpp"
#include "broker/store/migrate.hpp"
#include "broker/store/open_store.hpp"
#include "broker/store/secret_box.hpp"
#include "common/secrets.hpp"

namespace apono::broker {

int store_keygen(const std::string& id, const std::string& out) {
  std::string key_id = id;
  if (key_id.empty()) {
    // Ids sort by age, which is what an operator reading the file wants.
    auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "k%Y%m%d%H%M%S", &tm);
    key_id = buf;
  }
  auto line = secret_box::generate_key_line(key_id);
  if (out.empty()) {
    std::cout << line << "\n";
    return 0;
  }
  std::string text;
  if (std::filesystem::exists(out)) {
    // Loading checks what a broker would check (mode 0600, well-formed, ids unique) before the
    // file is touched, and refuses an id already there.
    auto existing = secret_box::from_file(out);
    (void)existing;
    text = common::read_file(out);
    if (!text.empty() && text.back() != '\n') text += '\n';
    (void)secret_box::from_text(text + line, out);
  }
  common::write_private_file(out, text + line + "\n");
  std::cout << "added key " << key_id << " to " << out
            << " as the newest: restart the brokers that use it, then run aponod store rekey\n";
  return 0;
}

int store_rekey(const std::string& config_path) {
  auto cfg = load_config(config_path);
  auto keys = load_store_keys(cfg->store, cfg->server.data_dir);
  auto st = open_store(cfg->store, keys);
  auto n = st->reseal_secrets();
  std::cout << "sealed " << n << " secret(s) with key " << keys->current_key_id() << "\n";
  return 0;
}

int store_migrate(const std::string& from, const std::string& to, const std::string& key_file) {
  auto source = parse_store_location(from);
  auto target = parse_store_location(to);
  if (source.type != "sqlite" || !from.starts_with("sqlite:"))
    throw std::invalid_argument("--from must be sqlite:PATH");
  if (target.type != "postgresql") throw std::invalid_argument("--to must be a postgresql:// URL");
  auto keys = keys_from_environment();
  if (!keys) {
    auto file = key_file.empty() ? source.path.parent_path() / "store.key"
                                 : std::filesystem::path(key_file);
    if (std::filesystem::exists(file) || !key_file.empty())
      keys = std::make_shared<const secret_box>(secret_box::from_file(file));
  }
  auto report = migrate_sqlite_to_postgres(source.path, target.url, keys);
  std::cout << "copied " << source.path.string() << " to PostgreSQL:\n";
  for (const auto& [table, n] : report.rows)
    std::cout << "  " << table << ": " << n << " rows (the same count at both ends)\n";
  std::cout << "  secrets: " << report.secrets_checked << " open with the keys given";
  if (report.sealed_now)
    std::cout << ", " << report.sealed_now << " sealed now (were in the clear)";
  std::cout << "\nstart the brokers with store.type postgresql and the same key file\n";
  return 0;
}

}  // namespace apono::broker
