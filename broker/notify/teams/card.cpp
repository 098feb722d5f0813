// The card's JSON. Only elements and properties of Adaptive Cards 1.0 to 1.4 are used.
#include "broker/notify/teams/card.hpp"

#include <boost/json.hpp>

namespace apono::broker::notify::teams {

namespace json = boost::json;

std::string escape_markdown(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (std::string_view("\\*_[]()`~<>#|").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

std::string build_message(const notice& n) {
  json::array body;
  body.push_back(json::object{{"type", "TextBlock"},
                              {"text", escape_markdown(n.title)},
                              {"weight", "Bolder"},
                              {"size", "Medium"},
                              {"wrap", true}});
  for (const auto& l : n.lines)
    body.push_back(
        json::object{{"type", "TextBlock"}, {"text", escape_markdown(l)}, {"wrap", true}});
  if (!n.facts.empty()) {
    json::array facts;
    for (const auto& [k, v] : n.facts)
      facts.push_back(json::object{{"title", escape_markdown(k)}, {"value", escape_markdown(v)}});
    body.push_back(json::object{{"type", "FactSet"}, {"facts", std::move(facts)}});
  }
  for (const auto& c : n.commands) {
    body.push_back(json::object{{"type", "TextBlock"},
                                {"text", escape_markdown(c.label) + ":"},
                                {"wrap", true},
                                {"spacing", "Medium"}});
    body.push_back(json::object{{"type", "TextBlock"},
                                {"text", escape_markdown(c.command)},
                                {"fontType", "Monospace"},
                                {"wrap", true},
                                {"spacing", "None"}});
  }
  json::object card{{"$schema", "http://adaptivecards.io/schemas/adaptive-card.json"},
                    {"type", "AdaptiveCard"},
                    {"version", card_version},
                    {"body", std::move(body)},
                    {"msteams", json::object{{"width", "Full"}}}};
  // Approvals happen in the portal: approving inside Teams would need a Bot Framework bot.
  if (!n.link.empty())
    card["actions"] = json::array{
        json::object{{"type", "Action.OpenUrl"},
                     {"title", n.request_id.empty() ? std::string("Open in apono")
                                                    : "Open " + n.request_id + " in apono"},
                     {"url", n.link}}};
  card["fallbackText"] = n.title;
  return json::serialize(json::object{
      {"type", "message"},
      {"attachments",
       json::array{json::object{{"contentType", "application/vnd.microsoft.card.adaptive"},
                                {"contentUrl", nullptr},
                                {"content", std::move(card)}}}}});
}

}  // namespace apono::broker::notify::teams
