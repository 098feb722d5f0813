// The store factory.
#include "broker/store/open_store.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <stdexcept>

#include "broker/store/postgres_store.hpp"
#include "broker/store/sqlite_store.hpp"
#include "common/secrets.hpp"

namespace apono::broker {

std::shared_ptr<const secret_box> keys_from_environment() {
  const char* env = std::getenv("APONO_STORE_KEYS");
  if (!env || !*env) return nullptr;
  return std::make_shared<const secret_box>(secret_box::from_text(env, "APONO_STORE_KEYS"));
}

std::shared_ptr<const secret_box> load_store_keys(const store_config& cfg,
                                                  const std::filesystem::path& data_dir) {
  if (auto keys = keys_from_environment()) return keys;
  auto file = cfg.key_file;
  if (file.empty()) {
    if (cfg.type != "sqlite")
      throw std::runtime_error(
          "store: a PostgreSQL store needs a key for secrets at rest, shared by every replica: "
          "set store.key_file (aponod store keygen writes one) or APONO_STORE_KEYS");
    file = data_dir / "store.key";
    if (!std::filesystem::exists(file)) {
      common::write_private_file(file, secret_box::generate_key_line("k1") + "\n");
      spdlog::info("store: made a key for secrets at rest in {}", file.string());
    }
  }
  return std::make_shared<const secret_box>(secret_box::from_file(file));
}

std::unique_ptr<store> open_store(const store_config& cfg, std::shared_ptr<const secret_box> keys) {
  if (cfg.type == "postgresql") {
    postgres_store_options o;
    o.url = cfg.url;
    o.pool_size = cfg.pool_size;
    o.keys = std::move(keys);
    return std::make_unique<postgres_store>(std::move(o));
  }
  if (cfg.type == "sqlite") return std::make_unique<sqlite_store>(cfg.path, std::move(keys));
  throw std::runtime_error("store: unknown type '" + cfg.type + "'");
}

store_config parse_store_location(const std::string& location) {
  store_config c;
  if (location.starts_with("postgresql://") || location.starts_with("postgres://")) {
    c.type = "postgresql";
    c.url = location;
    return c;
  }
  auto path = location.starts_with("sqlite:") ? location.substr(7) : location;
  if (path.empty()) throw std::invalid_argument("store: expected sqlite:PATH or postgresql://...");
  c.type = "sqlite";
  c.path = path;
  return c;
}

}  // namespace apono::broker
