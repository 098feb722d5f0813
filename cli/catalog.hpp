// Catalog lookups shared by the catalog listings, `request` and the interactive flow.
#pragma once

#include <boost/json/value.hpp>

#include <string>

#include "cli/api_client.hpp"

namespace apono::cli {

/// The integration named by `id_or_name` (an id, a name, or `type/name`), as the broker lists
/// it. Throws std::runtime_error "integration X not found" listing what exists.
[[nodiscard]] boost::json::value find_integration(api_client& api, const std::string& id_or_name);

}  // namespace apono::cli
