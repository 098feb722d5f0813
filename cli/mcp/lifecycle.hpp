// The MCP lifecycle's first exchange: which protocol revision both sides speak, what the
// client can do (elicitation), and the initialize result with the server's instructions.
#pragma once

#include <boost/json/object.hpp>

#include <string>
#include <string_view>

namespace apono::cli::mcp {

/// The revision this server speaks first.
inline constexpr std::string_view latest_version = "2025-11-25";

/// The revision to answer a client that asked for `requested`: the same when supported
/// (2025-11-25, 2025-06-18, 2025-03-26), else ours (the client then decides whether to go on).
[[nodiscard]] std::string negotiate_version(std::string_view requested);

/// True when revision `version` has tool output schemas, structured content, tool titles and
/// elicitation (2025-06-18 on).
[[nodiscard]] bool has_structured_output(std::string_view version);

/// What the client said about itself in initialize.
struct client_info {
  std::string version;       ///< the negotiated revision
  std::string name;          ///< clientInfo.name, for logs
  bool elicitation = false;  ///< it can show a form and send back the user's answer
};

/// Reads initialize's params (already negotiated to `version`).
[[nodiscard]] client_info read_client(const boost::json::object& params, std::string version);

/// The initialize result: revision, capabilities, serverInfo and instructions.
[[nodiscard]] boost::json::object initialize_result(const client_info& client);

/// What the model is told about this server and its rule on secrets.
[[nodiscard]] std::string server_instructions();

}  // namespace apono::cli::mcp
