// Picks and opens the store the configuration names.
#pragma once

#include <memory>

#include "broker/config.hpp"
#include "broker/store/store.hpp"

namespace apono::broker {

/// Opens (creating and migrating) the store of `cfg`; throws store_unavailable or
/// std::runtime_error with a one-line reason that never holds the connection password.
[[nodiscard]] std::unique_ptr<store> open_store(const store_config& cfg);

/// `sqlite:PATH`, a path, or a `postgresql://` / `postgres://` URL, as `aponod --store` and
/// `aponod store migrate` take them; throws std::invalid_argument.
[[nodiscard]] store_config parse_store_location(const std::string& location);

}  // namespace apono::broker
