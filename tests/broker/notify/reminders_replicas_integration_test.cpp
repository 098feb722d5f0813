// Must show 6 with replicas: two aponod on one PostgreSQL store, 1-second reminders and a
// real standardwebhooks receiver. Each reminder is written once (numbered 1..N without a repeat,
// whichever replica's timer got to it), none after the approval, and a grant is told once that
// it ends soon.
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
