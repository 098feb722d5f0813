// The MCP lifecycle: which revision answers which, and what the client's capabilities mean.
#include "cli/mcp/lifecycle.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>

using namespace apono::cli::mcp;
namespace json = boost::json;

TEST_CASE("a supported revision is answered with itself, any other with ours") {
  CHECK(negotiate_version("2025-11-25") == "2025-11-25");
  CHECK(negotiate_version("2025-06-18") == "2025-06-18");
  CHECK(negotiate_version("2025-03-26") == "2025-03-26");
  CHECK(negotiate_version("2024-11-05") == "2025-11-25");
  CHECK(negotiate_version("") == "2025-11-25");
  CHECK(negotiate_version("2099-01-01") == "2025-11-25");
}

TEST_CASE("structured output and elicitation came with 2025-06-18") {
  CHECK(has_structured_output("2025-11-25"));
  CHECK(has_structured_output("2025-06-18"));
  CHECK_FALSE(has_structured_output("2025-03-26"));
}

TEST_CASE("elicitation: form mode or the empty object, from 2025-06-18 on") {
  auto caps = [](std::string_view c) {
    return json::object{{"capabilities", json::parse(c)},
                        {"clientInfo", json::object{{"name", "t"}}}};
  };
  CHECK(read_client(caps(R"({"elicitation":{}})"), "2025-11-25").elicitation);
  CHECK(read_client(caps(R"({"elicitation":{"form":{}}})"), "2025-11-25").elicitation);
  CHECK_FALSE(read_client(caps(R"({"elicitation":{"url":{}}})"), "2025-11-25").elicitation);
  CHECK_FALSE(read_client(caps(R"({})"), "2025-11-25").elicitation);
  CHECK_FALSE(read_client(caps(R"({"elicitation":{}})"), "2025-03-26").elicitation);
  CHECK(read_client(caps("{}"), "2025-11-25").name == "t");
}

TEST_CASE("the initialize result carries the revision, tools and the instructions") {
  client_info c{"2025-06-18", "t", false};
  auto r = initialize_result(c);
  CHECK(r.at("protocolVersion") == "2025-06-18");
  CHECK(r.at("capabilities").at("tools").at("listChanged") == true);
  CHECK(r.at("serverInfo").at("name") == "apono");
  CHECK(std::string(r.at("instructions").as_string()).find("never receive a password") !=
        std::string::npos);
  CHECK_FALSE(
      initialize_result({"2025-03-26", "t", false}).at("serverInfo").as_object().contains("title"));
}
