// The helpers' common ground: this binary's path for other programs' config, and access details
// that say when and why access ended instead of the broker's bare 409.
#include "cli/helper_support.hpp"

#include <boost/json.hpp>

#include <filesystem>

#include "cli/api_client.hpp"
#include "cli/instructions.hpp"
#include "cli/output.hpp"
#include "common/error.hpp"

namespace apono::cli {

namespace fs = std::filesystem;
namespace json = boost::json;

std::vector<std::string> self_command(const global_options& g) {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<std::string> argv{ec ? std::string("apono") : exe.string()};
  if (!g.profile.empty()) {
    argv.emplace_back("--profile");
    argv.emplace_back(g.profile);
  }
  return argv;
}

// The broker's 409 says only the status; people get what the database shell says when access
// ends: when, why, and the command that asks again.
json::value fetch_details(const global_options& g, const std::string& id) {
  auto client = connect(g);
  try {
    return client.get("/api/v1/access-sessions/" + url_encode(id) + "/access-details");
  } catch (const common::api_error& e) {
    if (e.code() != common::errc::conflict) throw;
    json::value r;
    try {
      r = client.get("/api/v1/access-requests/" + url_encode(id));
    } catch (const std::exception&) {
      throw e;
    }
    auto rid = text(r, "id");
    auto st = text(r, "status");
    if (st == "REVOKING" || st == "EXPIRED" || st == "REVOKED") {
      bool expired = text(r, "end_reason") == "expired";
      auto at = expired ? text(r, "ends_at") : text(r, "updated_at");
      throw access_ended_error("access " + rid + " ended at " + local_time(at, "%H:%M:%S") +
                               (expired ? " (the grant expired)" : " (it was revoked)") +
                               "; request it again: apono requests again " + rid);
    }
    throw;
  }
}

}  // namespace apono::cli
