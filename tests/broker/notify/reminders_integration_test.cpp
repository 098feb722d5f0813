// Must show 6 of the notifications issue with a real aponod, real time and a real receiver that
// verifies every delivery with the `standardwebhooks` npm package: with a 1-second reminder
// interval the approvers are reminded in order, N times, and never after the approval or the
// rejection; a short grant is told once that it ends soon (3 seconds before), and a grant revoked
// first is never told. What is awaited is always a condition (another request's reminders or
// end serve as the clock that proves time went by), never a sleep.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <iostream>

#include "broker/notify/webhook/signing.hpp"
#include "common/secrets.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/reminder_checks.hpp"
#include "tests/support/webhook_receiver.hpp"

using namespace apono::test;
using namespace apono::test::reminders;
using namespace std::chrono_literals;
namespace json = boost::json;

TEST_CASE("approvers are reminded every second until the decision, and a grant before its end") {
  const auto secret = apono::broker::notify::generate_secret();
  webhook_receiver receiver({secret}, json::object{});
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  temp_dir dir("reminders-test");
  const auto extra = dir.path / "extra.yaml";
  apono::common::write_private_file(extra,
                                    "notifications:\n"
                                    "  reminders: {interval: 1s}\n"
                                    "  expiring_soon: {before: 3s}\n"
                                    "  webhooks:\n"
                                    "    - name: requests\n"
                                    "      url: " +
                                        receiver.url("/requests") +
                                        "\n"
                                        "      secrets: [" +
                                        secret +
                                        "]\n"
                                        "      events: [\"request.*\"]\n");
  broker_fixture b(pg, {"--dev-extra", extra.string()});
  log_on_failure show_log([&] { return b.log(); });

  // Two pending requests: one to approve, one to reject, each after three reminders.
  auto a = create_request(b, "alice", "appdb", "read_write", "1h");
  auto r = create_request(b, "bob", "appdb", "admin", "1h");
  REQUIRE(a.status == 201);
  REQUIRE(r.status == 201);
  const auto approved = id_of(a), rejected = id_of(r);
  receiver.wait_for("three reminders of " + approved + " and " + rejected, [&](const auto& got) {
    return count_of(got, approved, "request.reminder") >= 3 &&
           count_of(got, rejected, "request.reminder") >= 3;
  });
  REQUIRE(b.call("approver", "POST", "/api/v1/access-requests/" + approved + "/approve").status ==
          200);
  // The rejected one goes on being reminded meanwhile: three more of its reminders are three
  // intervals after the approval.
  const auto before_reject = count_of(receiver.received(), rejected, "request.reminder");
  receiver.wait_for("three more reminders of " + rejected, [&](const auto& got) {
    return count_of(got, rejected, "request.reminder") >= before_reject + 3 &&
           count_of(got, approved, "request.active") == 1;
  });
  REQUIRE(b.call("approver", "POST", "/api/v1/access-requests/" + rejected + "/reject",
                 R"({"reason":"not during the freeze"})")
              .status == 200);

  // Grants: one told it ends soon, then expired; one revoked before its notice was due.
  auto t = create_request(b, "alice", "appdb", "read_only", "8s");
  auto v = create_request(b, "bob", "appdb", "read_only", "8s");
  REQUIRE(t.status == 201);
  REQUIRE(v.status == 201);
  const auto told = id_of(t), revoked = id_of(v);
  REQUIRE(wait_until([&] { return request_status(b, "bob", revoked) == "ACTIVE"; }, 30s));
  REQUIRE(b.call("bob", "POST", "/api/v1/access-requests/" + revoked + "/revoke",
                 R"({"reason":"done early"})")
              .status == 200);
  // A clock for the rejection: three intervals of another pending request's reminders after it.
  auto c = create_request(b, "alice", "appdb", "admin", "1h");
  REQUIRE(c.status == 201);
  const auto clock_id = id_of(c);
  // The revoked grant's window (its last 3 s) has passed once a grant made after it expired.
  auto t2 = create_request(b, "alice", "appdb", "read_only", "8s");
  REQUIRE(t2.status == 201);
  const auto later = id_of(t2);
  auto got = receiver.wait_for(
      "the grants' ends and three reminders of " + clock_id,
      [&](const auto& seen) {
        return count_of(seen, told, "request.expired") == 1 &&
               count_of(seen, later, "request.expired") == 1 &&
               count_of(seen, revoked, "request.revoked") == 1 &&
               count_of(seen, clock_id, "request.reminder") >= 3;
      },
      90s);

  std::size_t n_approved = 0, n_rejected = 0, n_clock = 0;
  check_reminded(got, approved, {"request.created", "request.pending_approval"},
                 {"request.approved", "request.active"}, n_approved);
  check_reminded(got, rejected, {"request.created", "request.pending_approval"},
                 {"request.rejected"}, n_rejected);
  check_reminded(got, clock_id, {"request.created", "request.pending_approval"}, {}, n_clock);
  CHECK(n_approved >= 3);
  CHECK(n_rejected >= 6);
  // Each reminder received is one the broker wrote, and each written was received: none
  // invented, none lost, none after the decision.
  CHECK(audited(b, approved, "request.reminder").size() == n_approved);
  CHECK(audited(b, rejected, "request.reminder").size() == n_rejected);

  CHECK(types(got, told) == strings{"request.created", "request.approved", "request.active",
                                    "request.expiring_soon", "request.expired"});
  CHECK(types(got, later) == strings{"request.created", "request.approved", "request.active",
                                     "request.expiring_soon", "request.expired"});
  CHECK(types(got, revoked) ==
        strings{"request.created", "request.approved", "request.active", "request.revoked"});
  CHECK(audited(b, revoked, "request.expiring_soon").empty());
  for (const auto& id : {told, later}) {
    auto seen = about(got, id);
    const auto& active = seen[2].json.at("data").as_object();
    const auto& soon = seen[3].json.at("data").as_object();
    INFO(id << ": " << json::serialize(soon));
    CHECK(soon.at("status") == "ACTIVE");
    CHECK(soon.at("ends_at") == active.at("ends_at"));
    CHECK(soon.at("minutes_left") == 1);
    CHECK(soon.at("commands").at("connect") == ("apono access connect " + id).c_str());
    CHECK(soon.at("commands").at("request_again") ==
          ("apono requests again " + id + " -j JUSTIFICATION").c_str());
    // Sent before the end: at most 3 s before it, and it arrived before the grant ended.
    const auto ends = apono::common::parse_rfc3339(soon.at("ends_at").as_string());
    const auto sent = apono::common::parse_rfc3339(seen[3].json.at("timestamp").as_string());
    REQUIRE(ends);
    REQUIRE(sent);
    CHECK(*sent >= *ends - 3s);
    CHECK(*sent < *ends);
  }
  REQUIRE(b.call("alice", "POST", "/api/v1/access-requests/" + clock_id + "/revoke",
                 R"({"reason":"test over"})")
              .status == 200);
}
