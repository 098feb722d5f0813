// The Slack stand-in's own checks, so the tests that lean on them are known to catch what Slack
// would refuse: Block Kit limits, modal shapes, DM channels, threads and updates.
#include "tests/support/slack_fixture.hpp"

#include <catch2/catch.hpp>

#include "broker/slack/web_api.hpp"

namespace {

using namespace apono;
namespace json = boost::json;

json::object section(std::size_t chars) {
  return {{"type", "section"},
          {"text", json::object{{"type", "mrkdwn"}, {"text", std::string(chars, 'x')}}}};
}

json::object button(const std::string& text, const std::string& action_id,
                    const std::string& value) {
  return {{"type", "button"},
          {"text", json::object{{"type", "plain_text"}, {"text", text}}},
          {"action_id", action_id},
          {"value", value}};
}

json::array actions(json::object b) {
  return {json::object{{"type", "actions"}, {"elements", json::array{std::move(b)}}}};
}

json::object modal(const std::string& title, json::array blocks) {
  return {{"type", "modal"},
          {"title", json::object{{"type", "plain_text"}, {"text", title}}},
          {"submit", json::object{{"type", "plain_text"}, {"text", "Request"}}},
          {"blocks", std::move(blocks)}};
}

}  // namespace

TEST_CASE("the stand-in refuses what Slack refuses in blocks and modals") {
  using test::slack_block_problem;
  using test::slack_view_problem;
  json::array fifty, fifty_one;
  for (int i = 0; i < 50; ++i) fifty.push_back(section(10));
  fifty_one = fifty;
  fifty_one.push_back(section(10));
  CHECK_FALSE(slack_block_problem(fifty, false));
  CHECK(slack_block_problem(fifty_one, false));
  CHECK_FALSE(slack_block_problem(fifty_one, true));  // a modal takes 100

  CHECK_FALSE(slack_block_problem({section(3000)}, false));
  auto long_text = slack_block_problem({section(3001)}, false);
  REQUIRE(long_text);
  CHECK(long_text->find("/blocks/0/text/text") != std::string::npos);

  json::object header{
      {"type", "header"},
      {"text", json::object{{"type", "plain_text"}, {"text", std::string(150, 'h')}}}};
  CHECK_FALSE(slack_block_problem({header}, false));
  header["text"].as_object()["text"] = std::string(151, 'h');
  CHECK(slack_block_problem({header}, false));
  header["text"].as_object()["type"] = "mrkdwn";
  CHECK(slack_block_problem({header}, false));

  CHECK_FALSE(slack_block_problem(actions(button(std::string(75, 'b'), "a", "AR-1")), false));
  CHECK(slack_block_problem(actions(button(std::string(76, 'b'), "a", "AR-1")), false));
  CHECK(slack_block_problem(actions(button("Approve", std::string(256, 'a'), "AR-1")), false));
  CHECK(slack_block_problem(actions(button("Approve", "a", std::string(2001, 'v'))), false));
  CHECK(slack_block_problem(actions(button("", "a", "AR-1")), false));

  json::object with_id = section(5);
  with_id["block_id"] = std::string(256, 'i');
  CHECK(slack_block_problem({with_id}, false));
  with_id["block_id"] = "same";
  CHECK(slack_block_problem({with_id, with_id}, false));
  CHECK(slack_block_problem({json::object{{"type", "carousel"}}}, false));

  json::array input{
      json::object{{"type", "input"},
                   {"label", json::object{{"type", "plain_text"}, {"text", "Justification"}}},
                   {"element", json::object{{"type", "plain_text_input"}, {"action_id", "j"}}}}};
  CHECK_FALSE(slack_view_problem(modal("Request access", input)));
  CHECK(slack_view_problem(modal(std::string(25, 't'), input)));
  auto no_submit = modal("Request access", input);
  no_submit.erase("submit");
  CHECK(slack_view_problem(no_submit));
  json::array hundred_one;
  for (int i = 0; i < 101; ++i) hundred_one.push_back(section(1));
  CHECK(slack_view_problem(modal("Request access", hundred_one)));
}

TEST_CASE("the stand-in keeps DMs, threads and updates as Slack does") {
  test::slack_fixture slack;
  const auto alice = slack.add_user("alice", "alice@example.com");
  broker::slack::slack_config c;
  c.api_base_url = slack.api_url();
  c.ca_file = slack.ca_file();
  c.bot_token = slack.bot_token();
  broker::slack::web_api api(c);

  auto open1 = api.call("conversations.open", {{"users", alice}});
  auto open2 = api.call("conversations.open", {{"users", alice}});
  REQUIRE(open1.ok);
  const std::string dm(open1.body.at("channel").at("id").as_string());
  CHECK(dm == open2.body.at("channel").at("id").as_string());

  auto parent = api.call("chat.postMessage", {{"channel", alice}, {"text", "parent"}});
  REQUIRE(parent.ok);
  CHECK(parent.body.at("channel").as_string() == dm);
  const std::string ts(parent.body.at("ts").as_string());
  CHECK(api.call("chat.postMessage", {{"channel", dm}, {"text", "reply"}, {"thread_ts", ts}}).ok);
  CHECK(
      api.call("chat.postMessage", {{"channel", dm}, {"text", "r"}, {"thread_ts", "1.2"}}).error ==
      "thread_not_found");
  CHECK(api.call("chat.update", {{"channel", dm}, {"ts", ts}, {"text", "parent, updated"}}).ok);
  // chat.update takes the channel id, not a user id.
  CHECK(api.call("chat.update", {{"channel", alice}, {"ts", ts}, {"text", "x"}}).error ==
        "channel_not_found");
  CHECK(api.call("chat.update", {{"channel", dm}, {"ts", "9.9"}, {"text", "x"}}).error ==
        "message_not_found");
  CHECK(api.call("chat.postMessage", {{"channel", "C0PUBLIC"}, {"text", "x"}}).error ==
        "not_in_channel");
  auto too_many =
      api.call("chat.postMessage",
               {{"channel", alice}, {"text", "x"}, {"blocks", json::array{section(3001)}}});
  CHECK(too_many.error.starts_with("invalid_blocks"));

  const auto msgs = slack.messages(alice);
  REQUIRE(msgs.size() == 2);
  CHECK(msgs[0].text == "parent, updated");
  CHECK(msgs[0].updates == 1);
  CHECK(msgs[1].thread_ts == ts);
  // views.open needs a trigger Slack handed out (with a command or a click).
  CHECK(api.call("views.open", {{"trigger_id", "12.34.ab"},
                                {"view", modal("Request access", json::array{section(5)})}})
            .error == "invalid_trigger_id");
}
