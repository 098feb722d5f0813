// The app's messages and modals: within Slack's limits for any number of requests, the access
// details without a password, the time left, and the metadata the button modals carry.
#include "broker/slack/views.hpp"

#include <catch2/catch.hpp>

#include "broker/slack/blocks.hpp"

using namespace apono::broker::slack;
using namespace apono;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

common::access_request request(std::int64_t id, common::status s, common::time_point now) {
  common::access_request r;
  r.id = id;
  r.requester = "alice";
  r.integration = "pg-local";
  r.flow = "engineers-write";
  r.duration = 1h;
  r.justification = "<!channel> please";
  r.state = s;
  r.created_at = now - 10min;
  if (s == common::status::active) {
    r.active_from = now - 10min;
    r.ends_at = now + 50min + 30s;
  }
  r.units.push_back({1, "pg-local", "database", "appdb", "read_only", s, {}});
  return r;
}

}  // namespace

TEST_CASE("my requests: status and time left, within a message's limits") {
  const auto now = common::time_point{} + 1000h;
  std::vector<common::access_request> rs;
  rs.push_back(request(12, common::status::active, now));
  rs.push_back(request(11, common::status::rejected, now));
  rs.back().reason = "not now";
  rs.back().decided_by = "approver";
  auto m = my_requests_message(rs, now);
  auto text = json::serialize(m);
  INFO(text);
  CHECK(blocks::check_message(m).empty());
  CHECK(m.at("response_type") == "ephemeral");
  CHECK(text.find("AR-00012") != std::string::npos);
  CHECK(text.find("50m left") != std::string::npos);
  CHECK(text.find("`REJECTED`") != std::string::npos);
  CHECK(text.find("decided by approver") != std::string::npos);

  for (int i = 0; i < 120; ++i) rs.push_back(request(100 + i, common::status::expired, now));
  auto big = my_requests_message(rs, now);
  CHECK(blocks::check_message(big).empty());
  CHECK(json::serialize(big).find("more: `apono requests list --days 7`") != std::string::npos);
  CHECK(blocks::check_message(my_requests_message({}, now)).empty());
}

TEST_CASE("time left") {
  const auto now = common::time_point{} + 1000h;
  auto r = request(1, common::status::active, now);
  CHECK(time_left(r, now) == "50m left");
  CHECK(time_left(r, now + 2h) == "ended");
  CHECK(time_left(request(1, common::status::pending, now), now).empty());
}

TEST_CASE("the access details modal shows how to connect, never the password") {
  const auto now = common::time_point{} + 1000h;
  auto r = request(12, common::status::active, now);
  common::access_details d;
  d.request_id = "AR-00012";
  d.ends_at = *r.ends_at;
  common::unit_credentials u;
  u.integration = "pg-local";
  u.type = "postgresql";
  u.resource = "appdb";
  u.permission = "read_only";
  u.host = "127.0.0.1";
  u.port = 5432;
  u.database = "appdb";
  u.username = "apono_ar12_k3j9x2";
  u.password = "Sup3r-Secret-pw";
  u.sslmode = "prefer";
  d.units.push_back(u);
  common::unit_credentials cloud;
  cloud.integration = "aws";
  cloud.type = "aws";
  cloud.username = "ASIAKEYID";
  cloud.password = "aws-secret-key";
  cloud.session_token = "aws-session-token";
  d.units.push_back(cloud);
  auto v = details_modal(r, d);
  auto text = json::serialize(v);
  INFO(text);
  CHECK(blocks::check_modal(v).empty());
  CHECK(text.find("apono access connect AR-00012") != std::string::npos);
  CHECK(text.find("127.0.0.1") != std::string::npos);
  CHECK(text.find("5432") != std::string::npos);
  CHECK(text.find("apono_ar12_k3j9x2") != std::string::npos);
  for (const char* secret : {"Sup3r-Secret-pw", "ASIAKEYID", "aws-secret-key", "aws-session-token"})
    CHECK(text.find(secret) == std::string::npos);
}

TEST_CASE("button modals carry the request and the channel, and escape user text") {
  const auto now = common::time_point{} + 1000h;
  auto r = request(7, common::status::pending, now);
  for (const auto& v : {reject_modal(r, "D1"), again_modal(r, "D1")}) {
    INFO(json::serialize(v));
    CHECK(blocks::check_modal(v).empty());
    auto meta = read_meta(v);
    CHECK(meta.request_id == "AR-00007");
    CHECK(meta.channel == "D1");
  }
  auto text = json::serialize(reject_modal(r, "D1"));
  CHECK(text.find("<!channel>") == std::string::npos);
  CHECK(text.find("&lt;!channel&gt;") != std::string::npos);
  CHECK(read_meta(json::object{{"private_metadata", "x"}}).request_id.empty());
  auto created = created_message(r, "apono requests create -i pg-local -r appdb -p read_only -j x");
  CHECK(blocks::check_message(created).empty());
  CHECK(json::serialize(created).find("apono requests create -i pg-local") != std::string::npos);
  CHECK(blocks::check_message(help_message("Unknown subcommand `x`")).empty());
}
