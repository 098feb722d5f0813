// Slack's bodies are read strictly: a bad form, a missing payload, payload JSON that is not an
// object, a repeated key or the wrong content type are each a one-line 400, never a crash.
#include "broker/slack/payload.hpp"

#include <catch2/catch.hpp>

#include "common/error.hpp"

using namespace apono::broker;
using namespace apono::broker::slack;
using apono::common::api_error;
using apono::common::errc;

namespace {

http::request form(std::string body, std::string type = "application/x-www-form-urlencoded") {
  http::request r;
  r.method = "POST";
  r.content_type = std::move(type);
  r.body = std::move(body);
  return r;
}

// The message of the api_error `f` throws; fails when it throws none or another error.
template <class F>
std::string refusal(F f) {
  try {
    f();
  } catch (const api_error& e) {
    CHECK(e.code() == errc::invalid_argument);
    return e.what();
  }
  FAIL("no error");
  return {};
}

}  // namespace

TEST_CASE("form bodies decode + and %XX and refuse what is malformed") {
  auto f = parse_form("a=b+c&d=%2Fx%3D&e=&flag");
  CHECK(f.at("a") == "b c");
  CHECK(f.at("d") == "/x=");
  CHECK(f.at("e").empty());
  CHECK(f.at("flag").empty());
  CHECK(refusal([] { (void)parse_form("a=1&a=2"); }).find("twice") != std::string::npos);
  CHECK(refusal([] { (void)parse_form("a=%G1"); }).find("escape") != std::string::npos);
  CHECK(refusal([] { (void)parse_form("a=%4"); }).find("cut short") != std::string::npos);
  CHECK(refusal([] { (void)parse_form("=x"); }).find("empty key") != std::string::npos);
}

TEST_CASE("a slash command needs the form type, a user and a trigger") {
  auto c = parse_command(
      form("command=%2Fapono&text=my+requests&user_id=U1&channel_id=C1&trigger_id=t.1&response_url="
           "https%3A%2F%2Fhooks.slack.com%2Fx",
           "application/x-www-form-urlencoded; charset=utf-8"));
  CHECK(c.command == "/apono");
  CHECK(c.text == "my requests");
  CHECK(c.user_id == "U1");
  CHECK(c.channel_id == "C1");
  CHECK(c.response_url == "https://hooks.slack.com/x");
  CHECK(refusal([] {
          (void)parse_command(form("user_id=U1&trigger_id=t", "application/json"));
        }).find("x-www-form-urlencoded") != std::string::npos);
  CHECK(refusal([] { (void)parse_command(form("text=help&trigger_id=t")); }).find("user_id") !=
        std::string::npos);
}

TEST_CASE("an interaction is a payload field holding one JSON object with a type") {
  auto p =
      parse_interaction(form("payload=%7B%22type%22%3A%22block_actions%22%2C%22user%22%3A%7B"
                             "%22id%22%3A%22U1%22%7D%7D"));
  CHECK(field(p, {"type"}) == "block_actions");
  CHECK(field(p, {"user", "id"}) == "U1");
  CHECK(field(p, {"user", "name"}).empty());
  CHECK(field(p, {"type", "x"}).empty());
  CHECK(refusal([] { (void)parse_interaction(form("other=1")); }).find("payload") !=
        std::string::npos);
  CHECK(!refusal([] { (void)parse_interaction(form("payload=%7Bnot+json")); }).empty());
  CHECK(!refusal([] { (void)parse_interaction(form("payload=%5B1%2C2%5D")); }).empty());
  CHECK(refusal([] { (void)parse_interaction(form("payload=%7B%7D")); }).find("type") !=
        std::string::npos);
  // A repeated key would let two readers see two different clicks.
  CHECK(!refusal([] {
           (void)parse_interaction(
               form("payload=%7B%22type%22%3A%22a%22%2C%22type%22%3A%22b%22%7D"));
         }).empty());
  CHECK(refusal([] {
          (void)required_field(boost::json::object{}, {"view", "id"});
        }).find("view.id") != std::string::npos);
}
