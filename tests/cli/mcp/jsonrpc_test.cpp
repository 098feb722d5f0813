// Telling JSON-RPC messages apart as MCP narrows them.
#include "cli/mcp/jsonrpc.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>

using namespace apono::cli::mcp;

namespace {

message_kind kind(std::string_view s) {
  std::string why;
  return classify(boost::json::parse(s), why);
}

}  // namespace

TEST_CASE("requests, notifications and responses") {
  CHECK(kind(R"({"jsonrpc":"2.0","id":1,"method":"ping"})") == message_kind::request);
  CHECK(kind(R"({"jsonrpc":"2.0","id":"a","method":"ping","params":{}})") == message_kind::request);
  CHECK(kind(R"({"jsonrpc":"2.0","method":"notifications/initialized"})") ==
        message_kind::notification);
  CHECK(kind(R"({"jsonrpc":"2.0","id":"apono-1","result":{}})") == message_kind::response);
  CHECK(kind(R"({"jsonrpc":"2.0","id":"apono-1","error":{"code":1,"message":"x"}})") ==
        message_kind::response);
}

TEST_CASE("what is not a message") {
  CHECK(kind(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])") == message_kind::invalid);
  CHECK(kind(R"({"id":1,"method":"ping"})") == message_kind::invalid);
  CHECK(kind(R"({"jsonrpc":"1.0","id":1,"method":"ping"})") == message_kind::invalid);
  CHECK(kind(R"({"jsonrpc":"2.0","id":null,"method":"ping"})") == message_kind::invalid);
  CHECK(kind(R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})") == message_kind::invalid);
  CHECK(kind(R"({"jsonrpc":"2.0","id":1,"method":3})") == message_kind::invalid);
  CHECK(kind(R"({"jsonrpc":"2.0","id":1,"method":"x","params":[1]})") == message_kind::invalid);
  CHECK(kind(R"({"jsonrpc":"2.0","id":1})") == message_kind::invalid);
  CHECK(kind("42") == message_kind::invalid);
}

TEST_CASE("answers carry the id they answer") {
  auto r = make_error(7, errc::method_not_found, "Method not found: x");
  CHECK(boost::json::serialize(r) ==
        R"({"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"Method not found: x"}})");
  CHECK(boost::json::serialize(make_result("a", {})) ==
        R"({"jsonrpc":"2.0","id":"a","result":{}})");
}
