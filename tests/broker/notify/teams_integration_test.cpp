// Must show 5 of the notifications issue: the Microsoft Teams message a real aponod posts to a
// local receiver is a valid Adaptive Card, as Microsoft's `adaptivecards` SDK reads it (no parse
// or validation event, version 1.4 declared), inside the envelope a Workflows webhook takes, with
// the request's facts and an Action.OpenUrl to the request's page in the portal. Also: a 429 with
// Retry-After is retried after the time asked, and neither the Workflow URL's signature nor any
// secret reaches a card, the API or the log.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <map>

#include "common/secrets.hpp"
#include "tests/support/adaptive_card_check.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/webhook_receiver.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

const std::string portal = "https://apono.example.test/jit";

// A fact of the card by its title ("" when absent).
std::string fact(const json::value& message, const std::string& title) {
  const auto& body = message.at("attachments").at(0).at("content").at("body").as_array();
  for (const auto& item : body)
    if (item.at("type") == "FactSet")
      for (const auto& f : item.at("facts").as_array())
        if (f.at("title") == title.c_str()) return std::string(f.at("value").as_string());
  return {};
}

// The card about request `id` in `status`, or null.
const received_webhook* find(const std::vector<received_webhook>& got, const std::string& id,
                             const std::string& status) {
  for (const auto& r : got)
    if (r.answer >= 200 && r.answer < 300 && r.json.is_object() && fact(r.json, "Request") == id &&
        fact(r.json, "Status") == status)
      return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("Teams gets a valid Adaptive Card per event, with the facts and the portal link") {
  const auto sig = apono::common::random_password(32);
  const std::string path = "/workflows/4f2a/triggers/manual/paths/invoke?api-version=1&sig=" + sig;
  webhook_receiver receiver({}, json::object{{path, json::array{"429;retry-after=2", "202"}}});
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  temp_dir dir("teams-test");
  const auto extra = dir.path / "extra.yaml";
  apono::common::write_private_file(
      extra,
      "notifications:\n"
      "  timeout: 5s\n"
      "  retry: {initial: 1s, max: 1s, jitter: false}\n"
      "  portal_url: " +
          portal +
          "\n"
          "  teams:\n"
          "    - name: approvals\n"
          "      url: \"" +
          receiver.url(path) +
          "\"\n"
          "      events: [request.pending_approval, request.approved, request.active, "
          "request.rejected]\n");
  broker_fixture b(pg, {"--dev-extra", extra.string()});
  log_on_failure show_log([&] { return b.log(); });

  const std::string justification = "INC-7 *urgent* [fix](x) <b>";
  auto created = create_request(b, "alice", "appdb", "read_write", "1h", justification);
  REQUIRE(created.status == 201);
  const auto manual = std::string(created.json.at("id").as_string());
  receiver.wait_for("the pending card",
                    [&](const auto& got) { return find(got, manual, "PENDING") != nullptr; });
  REQUIRE(b.call("approver", "POST", "/api/v1/access-requests/" + manual + "/approve").status ==
          200);
  auto bobs = create_request(b, "bob", "appdb", "admin", "1h");
  REQUIRE(bobs.status == 201);
  const auto rejected = std::string(bobs.json.at("id").as_string());
  REQUIRE(b.call("approver", "POST", "/api/v1/access-requests/" + rejected + "/reject",
                 R"({"reason":"not during the freeze"})")
              .status == 200);
  auto got = receiver.wait_for("every card", [&](const auto& seen) {
    return find(seen, manual, "GRANTING") && find(seen, manual, "ACTIVE") &&
           find(seen, rejected, "REJECTED");
  });

  // Every card: the envelope, and what Microsoft's SDK reads in it.
  for (const auto& r : got) {
    INFO(r.body);
    CHECK(r.content_type == "application/json");
    REQUIRE(r.json.is_object());
    CHECK(r.json.at("type") == "message");
    const auto& att = r.json.at("attachments").as_array();
    REQUIRE(att.size() == 1);
    CHECK(att[0].at("contentType") == "application/vnd.microsoft.card.adaptive");
    CHECK(att[0].at("contentUrl").is_null());
    const auto& card = att[0].at("content");
    CHECK(card.at("$schema") == "http://adaptivecards.io/schemas/adaptive-card.json");
    CHECK(card.at("type") == "AdaptiveCard");
    CHECK(card.at("version") == "1.4");
    auto sdk = adaptive_card_check(r.body);
    INFO(json::serialize(sdk));
    CHECK(sdk.at("parseEvents").as_array().empty());
    CHECK(sdk.at("validation").as_array().empty());
    CHECK(sdk.at("version") == "1.4");
    const auto& actions = sdk.at("actions").as_array();
    REQUIRE(actions.size() == 1);
    CHECK(actions[0].at("type") == "Action.OpenUrl");
    const auto id = fact(r.json, "Request");
    CHECK(actions[0].at("url") == (portal + "/requests/" + id).c_str());
    CHECK(!sdk.at("facts").as_array().empty());
    // No secret: not the URL's signature, no token or password of anyone.
    CHECK(r.body.find(sig) == std::string::npos);
    for (const char* user : {"admin", "approver", "alice", "bob"}) {
      CHECK(r.body.find(b.token(user)) == std::string::npos);
      CHECK(r.body.find(b.password(user)) == std::string::npos);
    }
  }

  // The facts: request, requester, resources, permissions, flow, justification (Markdown
  // escaped, so it reads as typed), status, ends at, reason.
  const auto* pending = find(got, manual, "PENDING");
  CHECK(fact(pending->json, "Requester") == "alice");
  CHECK(fact(pending->json, "Resources") == "appdb");
  CHECK(fact(pending->json, "Permissions") == "read\\_write");
  CHECK(fact(pending->json, "Access flow") == "engineers-write");
  CHECK(fact(pending->json, "Justification") == "INC-7 \\*urgent\\* \\[fix\\]\\(x\\) \\<b\\>");
  CHECK(fact(pending->json, "Approvers") == "approver");
  CHECK(pending->body.find("apono approve " + manual) != std::string::npos);
  const auto* active = find(got, manual, "ACTIVE");
  CHECK(!fact(active->json, "Ends at").empty());
  CHECK(active->body.find("apono access connect " + manual) != std::string::npos);
  CHECK(fact(find(got, rejected, "REJECTED")->json, "Reason") == "not during the freeze");

  // 429 with Retry-After: 2 s: the first card was posted again no sooner, the same card.
  std::vector<const received_webhook*> first;
  for (const auto& r : got)
    if (r.json.is_object() && fact(r.json, "Request") == manual &&
        fact(r.json, "Status") == "PENDING")
      first.push_back(&r);
  REQUIRE(first.size() == 2);
  CHECK(first[0]->answer == 429);
  CHECK(first[1]->answer == 202);
  CHECK(first[0]->body == first[1]->body);
  CHECK(first[1]->at - first[0]->at >= 1900ms);
  auto list = b.call("admin", "GET", "/api/v1/notifications/deliveries?endpoint=approvals");
  REQUIRE(list.status == 200);
  std::map<std::string, std::int64_t> attempts;
  for (const auto& d : list.json.as_array()) {
    CHECK(d.at("channel") == "teams");
    CHECK(d.at("status") == "delivered");
    if (d.at("request_id") == manual.c_str() && d.at("type") == "request.pending_approval")
      attempts["pending"] = d.at("attempts").as_int64();
  }
  CHECK(attempts["pending"] == 2);

  // The endpoint as admins see it: scheme, host and port; the signature nowhere.
  auto endpoints = b.call("admin", "GET", "/api/v1/notifications/endpoints");
  REQUIRE(endpoints.status == 200);
  CHECK(endpoints.body.find("\"channel\":\"teams\"") != std::string::npos);
  CHECK(endpoints.body.find(sig) == std::string::npos);
  CHECK(list.body.find(sig) == std::string::npos);
  CHECK(b.log().find(sig) == std::string::npos);
}
