// Argument checking against a tool's input schema: every mistake is one line naming the
// argument, so the model can correct it.
#include "cli/mcp/tool_registry.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>

using namespace apono::cli::mcp;
namespace json = boost::json;

namespace {

const json::object schema = json::parse(R"({"type": "object", "properties": {
  "request_id": {"type": "string", "minLength": 1},
  "resources": {"type": "array", "items": {"type": "string"}, "minItems": 1},
  "limit": {"type": "integer", "minimum": 1, "maximum": 100},
  "status": {"type": "string", "enum": ["ACTIVE", "PENDING"]},
  "note": {"type": ["string", "null"]}
}, "required": ["request_id"], "additionalProperties": false})")
                                .as_object();

std::string check(std::string_view args) {
  return check_arguments(schema, json::parse(args));
}

}  // namespace

TEST_CASE("good arguments pass") {
  CHECK(check(R"({"request_id": "AR-1"})").empty());
  CHECK(check(R"({"request_id": "AR-1", "resources": ["a"], "limit": 100, "status": "ACTIVE",
                  "note": null})")
            .empty());
  CHECK(check(R"({"request_id": "AR-1", "limit": 5.0})").empty());
}

TEST_CASE("each mistake is named") {
  CHECK(check("[]") == "arguments must be object, not array");
  CHECK(check("{}") == "missing required argument 'request_id'");
  CHECK(check(R"({"request_id": ""})") == "'request_id' must not be empty");
  CHECK(check(R"({"request_id": 7})") == "'request_id' must be string, not integer");
  CHECK(check(R"({"request_id": "x", "limit": 0})") == "'limit' must be at least 1");
  CHECK(check(R"({"request_id": "x", "limit": 101})") == "'limit' must be at most 100");
  CHECK(check(R"({"request_id": "x", "limit": 1.5})") == "'limit' must be integer, not number");
  CHECK(check(R"({"request_id": "x", "status": "GONE"})") ==
        R"('status' must be one of "ACTIVE", "PENDING")");
  CHECK(check(R"({"request_id": "x", "resources": []})") == "'resources' needs at least 1 item(s)");
  CHECK(check(R"({"request_id": "x", "resources": ["a", 2]})") ==
        "'resources[1]' must be string, not integer");
  CHECK(check(R"({"request_id": "x", "limit": 1e300})") == "'limit' must be integer, not number");
  CHECK(check(R"({"request_id": "x", "note": 3})") == "'note' must be string or null, not integer");
  CHECK(check(R"({"request_id": "x", "colour": "red"})").starts_with("unknown argument 'colour'"));
}

TEST_CASE("the cancel token wakes a sleep and stays cancelled") {
  cancel_token t;
  CHECK(t.sleep_for(std::chrono::milliseconds{1}));
  t.cancel();
  t.cancel();
  CHECK(t.cancelled());
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(t.sleep_for(std::chrono::seconds{10}));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds{5});
}
