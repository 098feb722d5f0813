// JSON-RPC message shapes.
#include "cli/mcp/jsonrpc.hpp"

#include <boost/json.hpp>

namespace apono::cli::mcp {

namespace json = boost::json;

message_kind classify(const json::value& m, std::string& why) {
  if (!m.is_object()) {
    why = m.is_array() ? "batches are not supported: send one message per line"
                       : "a message must be a JSON object";
    return message_kind::invalid;
  }
  const auto& o = m.as_object();
  const auto* v = o.if_contains("jsonrpc");
  if (!v || !v->is_string() || v->get_string() != "2.0") {
    why = "\"jsonrpc\" must be \"2.0\"";
    return message_kind::invalid;
  }
  const auto* id = o.if_contains("id");
  // MCP narrows JSON-RPC: ids are strings or integers, never null.
  if (id && !id->is_string() && !id->is_int64() && !id->is_uint64()) {
    why = "\"id\" must be a string or an integer";
    return message_kind::invalid;
  }
  if (const auto* method = o.if_contains("method")) {
    if (!method->is_string()) {
      why = "\"method\" must be a string";
      return message_kind::invalid;
    }
    if (const auto* p = o.if_contains("params"); p && !p->is_object()) {
      why = "\"params\" must be an object";
      return message_kind::invalid;
    }
    return id ? message_kind::request : message_kind::notification;
  }
  if (id && (o.contains("result") || o.contains("error"))) return message_kind::response;
  why = "a message needs a \"method\", or an \"id\" with a \"result\" or an \"error\"";
  return message_kind::invalid;
}

json::object make_result(const json::value& id, json::object result) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

json::object make_error(const json::value& id, int code, std::string_view message) {
  return {{"jsonrpc", "2.0"},
          {"id", id},
          {"error", json::object{{"code", code}, {"message", message}}}};
}

json::object make_notification(std::string_view method, json::object params) {
  return {{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

json::object make_request(const std::string& id, std::string_view method, json::object params) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
}

}  // namespace apono::cli::mcp
