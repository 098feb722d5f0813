// The Block Kit builders keep to Slack's limits whatever they are given (long names, long
// justifications, many units, multi-byte text), and the checks catch what Slack refuses.
#include "broker/slack/blocks.hpp"

#include <catch2/catch.hpp>

using namespace apono::broker::slack;
namespace json = boost::json;

TEST_CASE("truncate cuts on a character boundary and marks the cut") {
  CHECK(blocks::truncate("short", 75) == "short");
  const std::string long_text(100, 'x');
  auto cut = blocks::truncate(long_text, 75);
  CHECK(cut.size() <= 75);
  CHECK(cut.ends_with("\xE2\x80\xA6"));
  // 30 three-byte characters: a cut at 20 bytes must not split one.
  std::string euros;
  for (int i = 0; i < 30; ++i) euros += "\xE2\x82\xAC";
  auto e = blocks::truncate(euros, 20);
  CHECK(e.size() <= 20);
  CHECK((e.size() - 3) % 3 == 0);
}

TEST_CASE("user text is escaped for mrkdwn") {
  CHECK(blocks::escape("<!channel> & <https://x|y>") ==
        "&lt;!channel&gt; &amp; &lt;https://x|y&gt;");
}

TEST_CASE("builders stay within Slack's limits") {
  const std::string huge(10000, 'a');
  auto s = blocks::section(huge);
  CHECK(s.at("text").at("text").as_string().size() <= blocks::limits::section_text);
  auto o = blocks::option(huge, huge);
  CHECK(o.at("text").at("text").as_string().size() <= blocks::limits::option_text);
  CHECK(o.at("value").as_string().size() <= blocks::limits::option_value);
  auto b = blocks::button(huge, "apono_approve", "AR-00001", "primary");
  CHECK(b.at("text").at("text").as_string().size() <= blocks::limits::option_text);
  std::vector<std::string> many;
  for (int i = 0; i < 250; ++i) many.push_back("db" + std::to_string(i));
  CHECK(blocks::options(many).size() == blocks::limits::options);
  auto m = blocks::modal(huge, "cb", json::array{blocks::section("x")});
  CHECK(m.at("title").at("text").as_string().size() <= blocks::limits::modal_title);
  CHECK(blocks::check_modal(m).empty());
  // An empty text would be refused by Slack: a space stands in.
  CHECK(blocks::section("").at("text").at("text") == " ");
}

TEST_CASE("a message past 50 blocks is cut and keeps its buttons last") {
  json::array b;
  for (int i = 0; i < 80; ++i) b.push_back(blocks::section("line " + std::to_string(i)));
  b.push_back(blocks::actions(
      "decide", json::array{blocks::button("Approve", "apono_approve", "AR-00001", "primary")}));
  auto m = blocks::message("text", std::move(b));
  const auto& out = m.at("blocks").as_array();
  CHECK(out.size() == blocks::limits::message_blocks);
  CHECK(out.back().at("type") == "actions");
  CHECK(blocks::check_message(m).empty());
}

TEST_CASE("the checks name what Slack would refuse") {
  json::array b;
  for (int i = 0; i < 51; ++i) b.push_back(blocks::divider());
  CHECK(!blocks::check_message(json::object{{"blocks", b}}).empty());

  auto long_section =
      json::object{{"type", "section"},
                   {"text", json::object{{"type", "mrkdwn"}, {"text", std::string(3001, 'x')}}}};
  CHECK(blocks::check_message(json::object{{"blocks", json::array{long_section}}}).find("3000") !=
        std::string::npos);

  auto input =
      blocks::input("i", "Label", json::object{{"type", "plain_text_input"}, {"action_id", "i"}});
  CHECK(!blocks::check_message(json::object{{"blocks", json::array{input}}}).empty());
  auto no_submit = json::object{
      {"type", "modal"}, {"title", blocks::plain("T")}, {"blocks", json::array{input}}};
  CHECK(blocks::check_modal(no_submit).find("submit") != std::string::npos);
  auto too_long_title =
      json::object{{"type", "modal"},
                   {"title", json::object{{"type", "plain_text"}, {"text", std::string(25, 't')}}},
                   {"blocks", json::array{}}};
  CHECK(!blocks::check_modal(too_long_title).empty());
  auto sel = json::object{{"type", "static_select"}, {"action_id", "s"}};
  json::array opts;
  for (int i = 0; i < 101; ++i)
    opts.push_back(json::object{{"text", blocks::plain("o")}, {"value", std::to_string(i)}});
  sel["options"] = opts;
  auto m = blocks::modal("T", "cb", json::array{blocks::input("s", "S", sel)}, {}, "OK");
  CHECK(blocks::check_modal(m).find("101 options") != std::string::npos);
}
