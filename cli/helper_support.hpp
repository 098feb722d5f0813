// What the helpers other programs run share (the aws CLI's credential_process, kubectl's exec
// plugin, ssh's ProxyCommand): how to name this binary in their config, and the broker's access
// details with the database shell's message once the grant has ended.
#pragma once

#include <boost/json/value.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "cli/context.hpp"

namespace apono::cli {

/// The grant has ended; what() is the database shell's message ("access AR-x ended at ...
/// (the grant expired); request it again: apono requests again AR-x").
class access_ended_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// This binary's absolute path (other programs run helpers with another PATH), then
/// `--profile NAME` when the command was run with one.
[[nodiscard]] std::vector<std::string> self_command(const global_options& g);

/// GET access-details for `id`; throws access_ended_error when the request is REVOKING,
/// EXPIRED or REVOKED, and the client's usual errors otherwise.
[[nodiscard]] boost::json::value fetch_details(const global_options& g, const std::string& id);

}  // namespace apono::cli
