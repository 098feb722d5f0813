// Picks and opens the store the configuration names.
#pragma once

#include <filesystem>
#include <memory>

#include "broker/config.hpp"
#include "broker/store/secret_box.hpp"
#include "broker/store/store.hpp"

namespace apono::broker {

/// The keys that seal unit secrets at rest: from $APONO_STORE_KEYS when set, else from
/// `cfg.key_file`; else, for SQLite, `data_dir/store.key`, made (0600) on first use. PostgreSQL
/// without a key is refused: its replicas must share one. Throws std::runtime_error.
[[nodiscard]] std::shared_ptr<const secret_box> load_store_keys(
    const store_config& cfg, const std::filesystem::path& data_dir);

/// The keys in $APONO_STORE_KEYS, or null when it is unset or empty; throws
/// std::runtime_error when it is malformed.
[[nodiscard]] std::shared_ptr<const secret_box> keys_from_environment();

/// Opens (creating and migrating) the store of `cfg`, sealing secrets with `keys`; throws
/// store_unavailable or std::runtime_error with a one-line reason that never holds the
/// connection password.
[[nodiscard]] std::unique_ptr<store> open_store(const store_config& cfg,
                                                std::shared_ptr<const secret_box> keys);

/// `sqlite:PATH`, a path, or a `postgresql://` / `postgres://` URL, as `aponod --store` and
/// `aponod store migrate` take them; throws std::invalid_argument.
[[nodiscard]] store_config parse_store_location(const std::string& location);

}  // namespace apono::broker
