// Must show 6 of the notifications issue with a real aponod, real time and a real receiver that
// verifies every delivery with the `standardwebhooks` npm package: with a 1-second reminder
// interval the approvers are reminded in order, N times, and never after the approval or the
// rejection; a short grant is told once that it ends soon (3 seconds before), and a grant revoked
// first is never told. What is awaited is always a condition (another request's reminders or
// end serve as the clock that proves time went by), never a sleep.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <iostream>

#include "broker/notify/webhook/signing.hpp"
#include "common/secrets.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/webhook_receiver.hpp"

using namespace apono::test;
using namespace std::chrono_literals;
namespace json = boost::json;
using strings = std::vector<std::string>;

namespace {

std::string id_of(const api_answer& a) {
  return std::string(a.json.at("id").as_string());
}

// The deliveries about request `id`, once per webhook-id, in arrival order.
std::vector<received_webhook> about(const std::vector<received_webhook>& got,
                                    const std::string& id) {
  std::vector<received_webhook> out;
  strings ids;
  for (const auto& r : got) {
    if (!r.json.is_object()) continue;
    const auto* rid = r.json.at("data").as_object().if_contains("request_id");
    if (!rid || !rid->is_string() || rid->as_string() != id.c_str()) continue;
    if (std::find(ids.begin(), ids.end(), r.id) != ids.end()) continue;
    ids.push_back(r.id);
    out.push_back(r);
  }
  return out;
}

strings types(const std::vector<received_webhook>& got, const std::string& id) {
  strings out;
  for (const auto& r : about(got, id)) out.push_back(r.type);
  return out;
}

std::size_t count_of(const std::vector<received_webhook>& got, const std::string& id,
                     const std::string& type) {
  auto t = types(got, id);
  return static_cast<std::size_t>(std::count(t.begin(), t.end(), type));
}

// The audit events `action` of request `id`, as the audit API gives them to an admin.
std::vector<json::object> audited(broker_fixture& b, const std::string& id,
                                  const std::string& action) {
  auto a = b.call("admin", "GET", "/api/v1/audit?limit=1000&request=" + id);
  REQUIRE(a.status == 200);
  std::vector<json::object> out;
  for (const auto& ev : a.json.as_array())
    if (ev.at("action") == action.c_str()) out.push_back(ev.as_object());
  return out;
}

// `first` of `id`'s events, then `reminders` request.reminder numbered 1..N, then `rest`.
void check_reminded(const std::vector<received_webhook>& got, const std::string& id,
                    const strings& first, const strings& rest, std::size_t& reminders) {
  auto seen = about(got, id);
  std::string shown;
  for (const auto& r : seen)
    shown += "  " + r.type + " " + json::serialize(r.json.at("data")) + "\n";
  INFO(id << ":\n" << shown);
  reminders = count_of(got, id, "request.reminder");
  strings expected = first;
  for (std::size_t i = 0; i < reminders; ++i) expected.emplace_back("request.reminder");
  expected.insert(expected.end(), rest.begin(), rest.end());
  CHECK(types(got, id) == expected);
  std::int64_t n = 0;
  for (const auto& r : seen) {
    if (r.type != "request.reminder") continue;
    const auto& data = r.json.at("data").as_object();
    ++n;
    CHECK(data.at("reminder") == n);
    CHECK(data.at("status") == "PENDING");
    CHECK(data.at("actor") == "system");
    CHECK(data.at("approvers") == json::array{"approver"});
    CHECK(data.at("commands").at("approve") == ("apono approve " + id).c_str());
    CHECK(data.at("pending_since").is_string());
    CHECK(r.verified == std::vector<bool>{true});
  }
}

}  // namespace

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

TEST_CASE("replicas: two aponod on one PostgreSQL store write each reminder and notice once") {
  const auto secret = apono::broker::notify::generate_secret();
  webhook_receiver receiver({secret}, json::object{});
  pg_fixture pg;
  pg.psql("CREATE DATABASE appdb");
  pg.psql("CREATE DATABASE apono_store");
  temp_dir dir("reminders-replicas");
  const auto extra = dir.path / "extra.yaml";
  apono::common::write_private_file(
      extra,
      "notifications:\n  reminders: {interval: 1s}\n  expiring_soon: {before: 3s}\n"
      "  webhooks:\n    - name: requests\n      url: " +
          receiver.url("/requests") + "\n      secrets: [" + secret +
          "]\n      events: [\"request.*\"]\n");
  const std::vector<std::string> args{"--store", pg.admin_url("apono_store"), "--dev-extra",
                                      extra.string()};
  broker_fixture one(pg, args);
  broker_fixture two(pg, args, one);
  log_on_failure show_log([&] { return one.log() + two.log(); });

  auto a = create_request(one, "alice", "appdb", "read_write", "1h");
  auto p = create_request(two, "bob", "appdb", "admin", "1h");
  REQUIRE(a.status == 201);
  REQUIRE(p.status == 201);
  const auto approved = id_of(a), pending = id_of(p);
  receiver.wait_for("five reminders of " + approved, [&](const auto& got) {
    return count_of(got, approved, "request.reminder") >= 5;
  });
  REQUIRE(two.call("approver", "POST", "/api/v1/access-requests/" + approved + "/approve").status ==
          200);
  auto t = create_request(two, "alice", "appdb", "read_only", "8s");
  REQUIRE(t.status == 201);
  const auto told = id_of(t);
  const auto before = count_of(receiver.received(), pending, "request.reminder");
  auto got = receiver.wait_for(
      "three more reminders of " + pending + " and the end of " + told,
      [&](const auto& seen) {
        return count_of(seen, pending, "request.reminder") >= before + 3 &&
               count_of(seen, told, "request.expired") == 1;
      },
      90s);

  std::size_t n_approved = 0, n_pending = 0;
  check_reminded(got, approved, {"request.created", "request.pending_approval"},
                 {"request.approved", "request.active"}, n_approved);
  check_reminded(got, pending, {"request.created", "request.pending_approval"}, {}, n_pending);
  // Written once each: the audit holds reminders 1..N, no number twice, all of them received.
  for (const auto& [id, received] :
       {std::pair{approved, n_approved}, std::pair{pending, n_pending}}) {
    auto written = audited(one, id, "request.reminder");
    INFO(id);
    REQUIRE(written.size() == received);
    for (std::size_t k = 0; k < written.size(); ++k)
      CHECK(written[k].at("detail").at("reminder") == static_cast<std::int64_t>(k + 1));
  }
  CHECK(types(got, told) == strings{"request.created", "request.approved", "request.active",
                                    "request.expiring_soon", "request.expired"});
  CHECK(audited(two, told, "request.expiring_soon").size() == 1);
  // Which replica wrote them (each run differs; both may).
  auto written_by = [](const std::string& log) {
    std::size_t n = 0;
    for (auto at = log.find("approvers reminded"); at != std::string::npos;
         at = log.find("approvers reminded", at + 1))
      ++n;
    return n;
  };
  std::cout << "replicas: " << n_approved + n_pending << " reminders, written "
            << written_by(one.log()) << " by one replica and " << written_by(two.log())
            << " by the other\n";
  REQUIRE(two.call("bob", "POST", "/api/v1/access-requests/" + pending + "/revoke",
                   R"({"reason":"test over"})")
              .status == 200);
}
