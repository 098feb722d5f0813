// The Teams message: the Workflows envelope, an Adaptive Card 1.4 with the notice's facts and
// commands, Markdown escaped, and an OpenUrl action only when there is a link.
#include "broker/notify/teams/card.hpp"

#include <catch2/catch.hpp>

#include <boost/json.hpp>

namespace json = boost::json;
using apono::broker::notify::notice;
namespace teams = apono::broker::notify::teams;

TEST_CASE("a card with facts, commands and the portal link") {
  notice n;
  n.request_id = "AR-00012";
  n.title = "Your request AR-00012 was rejected";
  n.lines = {"Rejected by approver."};
  n.facts = {{"Request", "AR-00012"}, {"Reason", "not *now* [x](y)"}};
  n.commands = {{"Request it again", "apono requests again AR-00012"}};
  n.link = "https://apono.example.com/requests/AR-00012";
  const auto v = json::parse(teams::build_message(n));
  CHECK(v.at("type") == "message");
  const auto& a = v.at("attachments").at(0);
  CHECK(a.at("contentType") == "application/vnd.microsoft.card.adaptive");
  CHECK(a.at("contentUrl").is_null());
  const auto& card = a.at("content");
  CHECK(card.at("type") == "AdaptiveCard");
  CHECK(card.at("version") == "1.4");
  CHECK(card.at("$schema") == "http://adaptivecards.io/schemas/adaptive-card.json");
  const auto& body = card.at("body").as_array();
  CHECK(body[0].at("text") == "Your request AR-00012 was rejected");
  CHECK(body[2].at("type") == "FactSet");
  CHECK(body[2].at("facts").at(1).at("value") == "not \\*now\\* \\[x\\]\\(y\\)");
  CHECK(body[4].at("text") == "apono requests again AR-00012");
  CHECK(body[4].at("fontType") == "Monospace");
  const auto& action = card.at("actions").at(0);
  CHECK(action.at("type") == "Action.OpenUrl");
  CHECK(action.at("url") == "https://apono.example.com/requests/AR-00012");

  n.link.clear();
  const auto without = json::parse(teams::build_message(n));
  CHECK(!without.at("attachments").at(0).at("content").as_object().contains("actions"));
}
