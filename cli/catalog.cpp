// Catalog lookups.
#include "cli/catalog.hpp"

#include <boost/json.hpp>

#include "cli/output.hpp"

namespace apono::cli {

namespace json = boost::json;

json::value find_integration(api_client& api, const std::string& id_or_name) {
  auto all = api.get("/api/v1/integrations");
  std::string known;
  for (const auto& i : all.as_array()) {
    auto id = text(i, "id"), name = text(i, "name"), type = text(i, "type");
    if (id_or_name == id || id_or_name == name || id_or_name == type + "/" + name) return i;
    known += (known.empty() ? "" : ", ") + id;
  }
  throw std::runtime_error("integration " + id_or_name + " not found" +
                           (known.empty() ? std::string(": you may request no integration")
                                          : " (available: " + known + ")"));
}

}  // namespace apono::cli
