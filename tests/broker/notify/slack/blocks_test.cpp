// The Slack messages of a notification: the buttons each message shows (with their fixed
// action_ids and the request id as value), escaping of what people typed, and Slack's limits
// kept whatever the input's length (checked with the stand-in's own Block Kit checks).
#include "broker/notify/slack/blocks.hpp"

#include <catch2/catch.hpp>

#include <set>

#include "tests/support/slack_blocks_check.hpp"

namespace json = boost::json;
using apono::broker::notify::notice;
namespace blocks = apono::broker::notify::slack_blocks;

namespace {

notice make(const std::string& type, const std::string& justification = "INC-42") {
  notice n;
  n.type = type;
  n.request_id = "AR-00012";
  n.title = "AR-00012: " + type;
  n.lines = {"alice asks for read_write on appdb for 1h."};
  n.facts = {{"Request", "AR-00012"},       {"Requester", "alice"},
             {"Integration", "pg-local"},   {"Resources", "appdb"},
             {"Permissions", "read_write"}, {"Duration", "1h"},
             {"Access flow", "writes"},     {"Justification", justification},
             {"Status", "PENDING"},         {"By", "approver"}};
  n.commands = {{"Approve", "apono approve AR-00012"}};
  n.link = "https://apono.example.com/requests/AR-00012";
  return n;
}

std::set<std::string> buttons(const blocks::message& m) {
  std::set<std::string> out;
  for (const auto& b : m.blocks)
    if (const auto* els = b.as_object().if_contains("elements"); els && b.at("type") == "actions")
      for (const auto& e : els->as_array()) {
        CHECK(e.at("value") == "AR-00012");
        out.insert(std::string(e.at("action_id").as_string()));
      }
  return out;
}

void within_limits(const blocks::message& m) {
  INFO(json::serialize(m.blocks));
  const auto problem = apono::test::slack_block_problem(m.blocks, false);
  CHECK_FALSE(problem);
  if (problem) FAIL(*problem);
  CHECK_FALSE(m.text.empty());
}

}  // namespace

TEST_CASE("each Slack message shows the buttons that fit it") {
  using S = std::set<std::string>;
  CHECK(buttons(blocks::approval_request(make("request.pending_approval"))) ==
        S{"apono_approve", "apono_reject"});
  CHECK(buttons(blocks::approval_outcome(make("request.approved"))).empty());
  CHECK(buttons(blocks::requester_status(make("request.created"))).empty());
  CHECK(buttons(blocks::requester_status(make("request.active"))) ==
        S{"apono_details", "apono_revoke"});
  for (const char* t : {"request.expired", "request.revoked", "request.rejected"})
    CHECK(buttons(blocks::requester_status(make(t))) == S{"apono_request_again"});
  CHECK(buttons(blocks::requester_status(make("request.failed"))).empty());
  CHECK(buttons(blocks::thread_reply(make("request.active"))).empty());
  for (const char* t : {"request.pending_approval", "request.approved", "request.rejected",
                        "request.active", "request.expired", "request.revoked", "request.failed"}) {
    INFO(t);
    within_limits(blocks::approval_request(make(t)));
    within_limits(blocks::approval_outcome(make(t)));
    within_limits(blocks::requester_status(make(t)));
    within_limits(blocks::thread_reply(make(t)));
  }
}

TEST_CASE("what people typed is escaped and cut to Slack's limits") {
  const auto hostile = "<!channel> <https://evil.example|click> & " + std::string(6000, 'x');
  for (const auto& m : {blocks::approval_request(make("request.pending_approval", hostile)),
                        blocks::approval_outcome(make("request.rejected", hostile)),
                        blocks::requester_status(make("request.active", hostile))}) {
    within_limits(m);
    const auto text = json::serialize(m.blocks);
    CHECK(text.find("<!channel>") == std::string::npos);
    CHECK(text.find("&lt;!channel&gt;") != std::string::npos);
    CHECK(text.find("<https://evil") == std::string::npos);
  }
  CHECK(blocks::escape("a < b && c > d") == "a &lt; b &amp;&amp; c &gt; d");
  // A header cut on a UTF-8 boundary, never inside an escape.
  auto n = make("request.pending_approval");
  n.request_id = std::string(200, '&');
  const auto m = blocks::approval_request(n);
  within_limits(m);
}
