// JSON-RPC 2.0 as MCP uses it: the error codes, the shapes of responses, requests and
// notifications, and telling a parsed line apart (request, notification, response).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace apono::cli::mcp {

/// JSON-RPC error codes the server answers with.
namespace errc {
inline constexpr int parse_error = -32700;       ///< the line is not JSON
inline constexpr int invalid_request = -32600;   ///< JSON, but not a JSON-RPC request
inline constexpr int method_not_found = -32601;  ///< unknown method
inline constexpr int invalid_params = -32602;    ///< bad params, unknown tool
inline constexpr int internal_error = -32603;    ///< a bug
}  // namespace errc

/// What a received message is.
enum class message_kind {
  request,       ///< has a method and an id: must be answered
  notification,  ///< has a method and no id: never answered
  response,      ///< has an id and a result or an error: answers one of our requests
  invalid,       ///< none of the above
};

/// Classifies `m`; `why` says what is wrong when invalid.
[[nodiscard]] message_kind classify(const boost::json::value& m, std::string& why);

/// `{"jsonrpc":"2.0","id":id,"result":result}`.
[[nodiscard]] boost::json::object make_result(const boost::json::value& id,
                                              boost::json::object result);
/// `{"jsonrpc":"2.0","id":id,"error":{"code","message"}}`.
[[nodiscard]] boost::json::object make_error(const boost::json::value& id, int code,
                                             std::string_view message);
/// `{"jsonrpc":"2.0","method":method,"params":params}`.
[[nodiscard]] boost::json::object make_notification(std::string_view method,
                                                    boost::json::object params);
/// `{"jsonrpc":"2.0","id":id,"method":method,"params":params}`.
[[nodiscard]] boost::json::object make_request(const std::string& id, std::string_view method,
                                               boost::json::object params);

}  // namespace apono::cli::mcp
