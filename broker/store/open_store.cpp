// The store factory.
#include "broker/store/open_store.hpp"

#include <stdexcept>

#include "broker/store/postgres_store.hpp"
#include "broker/store/sqlite_store.hpp"

namespace apono::broker {

std::unique_ptr<store> open_store(const store_config& cfg) {
  if (cfg.type == "postgresql") {
    postgres_store_options o;
    o.url = cfg.url;
    o.pool_size = cfg.pool_size;
    return std::make_unique<postgres_store>(std::move(o));
  }
  if (cfg.type == "sqlite") return std::make_unique<sqlite_store>(cfg.path);
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
